"""gRPC servicer of `crm.webhooks.v1.WebhooksService`: translation only. A create or a target
change resolves and checks the URL first (`prepare`, outside the transaction)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from crm.common.v1.types_pb2 import PageResponse
from crm.webhooks.v1 import webhooks_pb2 as pb
from crm.webhooks.v1.webhooks_pb2_grpc import WebhooksServiceServicer
from crm_webhooks.ports import Resolver, resolve
from crm_webhooks.rules import signature, subscriptions, targets
from crm_webhooks.rules.backoff import Schedule
from crm_webhooks.rules.sealing import SecretBox
from crm_webhooks.usecases import deliveries
from crm_webhooks.usecases import subscriptions as subs
from crmkit.db import Database, UnitOfWork
from crmkit.errors import InvalidArgument
from crmkit.servicer import Call, Clock, Ctx, ServicerBase, system_clock


class WebhooksServicer(ServicerBase, WebhooksServiceServicer):
    def __init__(self, db: Database, clock: Clock = system_clock, *, box: SecretBox, schedule: Schedule | None = None,
                 allowed: Sequence[targets.Network] = (), resolver: Resolver = resolve,
                 wake: Callable[[], None] = lambda: None) -> None:
        super().__init__(db, clock)
        self.schedule = schedule or Schedule()
        self.allowed = tuple(allowed)
        self.resolver = resolver
        self.wake = wake
        self.box = box

    def _opened(self, sub: pb.Subscription) -> pb.Subscription:
        """The answer (first or stored for the idempotency key) holds the sealed secret: opened here only."""
        sub.secret = self.box.open(sub.secret)
        return sub

    def _checked(self, call: Call, sub: pb.Subscription, fields: Sequence[str]) -> str:
        """Refuse a target we would never send to, before anything is stored; a new secret, sealed."""
        subscriptions.check_manager(call.principal)
        probe = pb.Subscription()
        probe.CopyFrom(sub)
        subs.check_fields(probe, fields=fields)
        if "target_url" in fields:
            target = targets.parse_target(sub.target_url)
            try:
                targets.check_addresses(self.resolver(target.host, target.port), self.allowed)
            except ValueError as exc:
                raise InvalidArgument(str(exc), field="target_url") from None
        return self.box.seal(signature.new_secret())

    def CreateSubscription(self, request: pb.CreateSubscriptionRequest, context: Ctx) -> pb.Subscription:
        return self._opened(self.write_after(
            request, pb.Subscription, lambda c: self._checked(c, request.subscription, subs.PATCHABLE),
            lambda uow, c, sealed: subs.create(uow, principal=c.principal, now=c.now,
                                               subscription=request.subscription, sealed=sealed)))

    def GetSubscription(self, request: pb.GetSubscriptionRequest, context: Ctx) -> pb.Subscription:
        return self.read(lambda s, c: subs.get(s, principal=c.principal, sub_id=request.id))

    def ListSubscriptions(self, request: pb.ListSubscriptionsRequest, context: Ctx) -> pb.ListSubscriptionsResponse:
        items, token = self.read(lambda s, c: subs.list_(
            s, principal=c.principal, page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListSubscriptionsResponse(subscriptions=items, page=PageResponse(next_page_token=token))

    def UpdateSubscription(self, request: pb.UpdateSubscriptionRequest, context: Ctx) -> pb.Subscription:
        mask = list(request.update_mask.paths)
        updated = self.write_after(
            request, pb.Subscription, lambda c: self._checked(c, request.subscription, mask),
            lambda uow, c, _: subs.update(uow, principal=c.principal, now=c.now, changes=request.subscription,
                                          mask=mask, expected_version=request.expected_version))
        self.wake()  # a resumed or retargeted subscription's queue goes now, not at the next poll
        return updated

    def DeleteSubscription(self, request: pb.DeleteSubscriptionRequest, context: Ctx) -> pb.DeleteSubscriptionResponse:
        def delete(uow: UnitOfWork, c: Call) -> pb.DeleteSubscriptionResponse:
            subs.delete(uow, principal=c.principal, sub_id=request.id, expected_version=request.expected_version)
            return pb.DeleteSubscriptionResponse()
        return self.write(request, pb.DeleteSubscriptionResponse, delete)

    def RotateSecret(self, request: pb.RotateSecretRequest, context: Ctx) -> pb.Subscription:
        return self._opened(self.write_after(
            request, pb.Subscription, lambda c: self._checked(c, pb.Subscription(), ()),
            lambda uow, c, sealed: subs.rotate_secret(uow, principal=c.principal, now=c.now, sub_id=request.id,
                                                      sealed=sealed)))

    def ListEventTypes(self, request: pb.ListEventTypesRequest, context: Ctx) -> pb.ListEventTypesResponse:
        return self.read(lambda s, c: subs.event_types(principal=c.principal))

    def ListDeliveries(self, request: pb.ListDeliveriesRequest, context: Ctx) -> pb.ListDeliveriesResponse:
        items, token = self.read(lambda s, c: deliveries.list_(
            s, principal=c.principal, sub_id=request.subscription_id, status=request.status,
            page_size=request.page.page_size, page_token=request.page.page_token))
        return pb.ListDeliveriesResponse(deliveries=items, page=PageResponse(next_page_token=token))

    def ReplayDelivery(self, request: pb.ReplayDeliveryRequest, context: Ctx) -> pb.Delivery:
        delivery = self.write(request, pb.Delivery, lambda uow, c: deliveries.replay(
            uow, principal=c.principal, now=c.now, sub_id=request.subscription_id,
            delivery_id=request.delivery_id, schedule=self.schedule))
        self.wake()
        return delivery
