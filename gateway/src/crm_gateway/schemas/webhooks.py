"""Webhook shapes (crm.webhooks.v1): subscriptions, the event types they may name, deliveries."""
from __future__ import annotations

from crm.webhooks.v1 import webhooks_pb2 as pb
from crm_gateway.routing import QueryParam
from crm_gateway.schemas import PAGE_PARAMS, REGISTRY

_r = REGISTRY

SUBSCRIPTION = _r.message(pb.Subscription, name="WebhookSubscription")
SUBSCRIPTION_INPUT = _r.input(pb.Subscription, "WebhookSubscriptionInput", required=("target_url", "event_types"))
SUBSCRIPTION_PATCH = _r.patch(pb.Subscription, "WebhookSubscriptionPatch")
_r.require_text("WebhookSubscriptionInput", "target_url")
for _name in ("WebhookSubscriptionInput", "WebhookSubscriptionPatch"):
    _r.enum(_name, "status", ("active", "paused"))
SUBSCRIPTION_PAGE = _r.page(SUBSCRIPTION, "WebhookSubscriptionPage")
EVENT_TYPES = _r.message(pb.ListEventTypesResponse, name="WebhookEventTypes")
DELIVERY = _r.message(pb.Delivery, name="WebhookDelivery")
DELIVERY_PAGE = _r.page(DELIVERY, "WebhookDeliveryPage")
DELIVERY_PARAMS = (
    QueryParam("status", description="only deliveries in this state", choices=("pending", "delivered", "parked")),
    *PAGE_PARAMS,
)
