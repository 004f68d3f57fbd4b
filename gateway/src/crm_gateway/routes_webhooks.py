"""Outgoing webhooks → crm.webhooks.v1.WebhooksService: /api/v1/webhooks/* (an admin, or a user
with the `integration` role for their own subscriptions).

A subscription's secret is in the answer to its creation and to /rotate-secret only. Each
subscription's delivery log lists every event it was sent (state, attempts, HTTP status, next
try); /replay sends one again under the same delivery id."""
from __future__ import annotations

from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_gateway.actions import JSON, Action, items
from crm_gateway.crud import Resource, summaries
from crm_gateway.routing import API, Route
from crm_gateway.schemas import PAGE_PARAMS
from crm_gateway.schemas import webhooks as sh

TAG = "webhooks"
SUBSCRIPTIONS = f"{API}/webhooks/subscriptions"

SUBSCRIPTION_ROUTES = Resource(pb, "Subscription", SUBSCRIPTIONS, TAG, {
    **summaries("webhook subscription", "webhook subscriptions"),
    "create": "Subscribe a URL to event types (the target is refused when it resolves to an internal address); "
              "the answer carries the signing secret, shown this once",
    "list": "The caller's webhook subscriptions (an admin: everyone's), newest first",
    "update": "Change a subscription's URL, event types, status (active | paused) or description; the keys "
              "given form the mask",
}, sh.SUBSCRIPTION, sh.SUBSCRIPTION_INPUT, sh.SUBSCRIPTION_PATCH, sh.SUBSCRIPTION_PAGE, PAGE_PARAMS)

ROUTES: list[Action | Route] = [
    *SUBSCRIPTION_ROUTES.actions(),
    Action("POST", f"{SUBSCRIPTIONS}/<id>/rotate-secret", "rotateWebhookSecret",
           "A new signing secret (in the answer, shown this once); deliveries still queued are signed with it",
           TAG, "RotateSecret", pb.RotateSecretRequest, sh.SUBSCRIPTION, JSON),
    Action("GET", f"{API}/webhooks/event-types", "listWebhookEventTypes",
           "The event types a subscription may name (opportunity.won, contact.updated, ticket.solved ...)", TAG,
           "ListEventTypes", pb.ListEventTypesRequest, sh.EVENT_TYPES, JSON),
    Action("GET", f"{SUBSCRIPTIONS}/<subscription_id>/deliveries", "listWebhookDeliveries",
           "The delivery log of a subscription, newest first: state, attempts, last HTTP status and error, "
           "next try", TAG, "ListDeliveries", pb.ListDeliveriesRequest, sh.DELIVERY_PAGE,
           items("deliveries", paged=True), query=sh.DELIVERY_PARAMS),
    Action("POST", f"{SUBSCRIPTIONS}/<subscription_id>/deliveries/<delivery_id>/replay", "replayWebhookDelivery",
           "Send a delivery again now (a parked one, or any other), same id and body, a fresh day of retries",
           TAG, "ReplayDelivery", pb.ReplayDeliveryRequest, sh.DELIVERY, JSON, status=202),
]
