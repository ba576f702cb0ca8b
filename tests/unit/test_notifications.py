"""SOL005 notifications without HTTP or Ray: which changes an operation went through, the
outbox on a real (embedded) store, ordered delivery with retries, signatures, filters, and a
notifier that restarts without losing or repeating anything."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from mano.records import OperationRecord
from mano.rest import notifications as n
from mano.states import OperationState, OperationType


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


class Wire:
    """What a receiver got, and whether it is up."""

    def __init__(self):
        self.up = True
        self.got: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, subscription, body: bytes, headers: dict[str, str]) -> None:
        if not self.up:
            raise ConnectionRefusedError("connection refused")
        self.got.append((body, headers))

    def bodies(self) -> list[dict]:
        return [json.loads(body) for body, _ in self.got]


def subscribe(store, flt=None, **auth) -> object:
    request = n.SubscriptionRequest.model_validate({"callbackUri": "http://127.0.0.1:9/notify",
                                                    **({"filter": flt} if flt else {}), **auth})
    return store.subscriptions.insert(n.subscription_of(request, f"sub-{store.subscriptions.count()}"))


def test_an_operations_changes_as_far_as_its_record_tells():
    op = OperationRecord(id="op", type=OperationType.INSTANTIATE, service_id="s")
    assert [(c.state.value, c.status) for c in n.changes_of(op)] == [("PROCESSING", "START")]
    done = op.with_state(OperationState.COMPLETED)
    assert [(c.state.value, c.status) for c in n.changes_of(done)] == [("PROCESSING", "START"), ("COMPLETED", "RESULT")]
    rolled = op.with_state(OperationState.FAILED_TEMP).with_state(OperationState.PROCESSING) \
        .model_copy(update={"retries": 1}).with_state(OperationState.FAILED_TEMP) \
        .with_state(OperationState.ROLLING_BACK).with_state(OperationState.ROLLED_BACK)
    assert [c.key for c in n.changes_of(rolled)] == [
        "op|0|PROCESSING", "op|0|FAILED_TEMP", "op|1|PROCESSING", "op|1|ROLLING_BACK", "op|1|ROLLED_BACK"]
    assert [c.status for c in n.changes_of(rolled)] == ["START", "RESULT", "START", "START", "RESULT"]


def test_each_change_is_queued_once_and_delivered_in_order_after_the_receiver_comes_back(store):
    clock, wire = Clock(), Wire()
    sub = subscribe(store)
    notifier = n.Notifier(store, post=wire, clock=clock)
    op = store.operations.insert(OperationRecord(id="op-1", type=OperationType.INSTANTIATE, service_id="s1"))
    assert notifier.scan() == 1 and notifier.scan() == 0
    wire.up = False
    assert notifier.deliver_due() == 0
    owed = store.notifications.owed(sub.id)
    assert [(o.attempts, o.last_error) for o in owed] == [(1, "ConnectionRefusedError: connection refused")]
    store.operations.mutate(op.id, lambda o: o.with_state(OperationState.COMPLETED))
    assert notifier.scan() == 1
    assert notifier.deliver_due() == 0 and wire.got == []  # not due yet: the back-off holds
    clock.now += 0.6
    assert notifier.deliver_due() == 0  # still down: the second is tried only after the first
    assert [o.attempts for o in store.notifications.owed(sub.id)] == [2, 0]
    wire.up = True
    clock.now += 1.1
    assert notifier.deliver_due() == 2
    bodies = wire.bodies()
    assert [(b["notificationStatus"], b["operationState"]) for b in bodies] == [("START", "PROCESSING"),
                                                                              ("RESULT", "COMPLETED")]
    assert {(b["nsLcmOpOccId"], b["operation"], b["subscriptionId"], b["notificationType"]) for b in bodies} == {
        ("op-1", "INSTANTIATE", sub.id, n.OP_OCC)}
    for body, headers in wire.got:
        assert n.verify(sub.secret, headers[n.SIGNATURE_HEADER], body, now=clock.now)
    assert store.notifications.owed(sub.id) == [] and notifier.deliver_due() == 0

    # a notifier started again (a restarted server) repeats nothing and catches up on the rest
    again = n.Notifier(store, post=wire, clock=clock)
    assert again.scan() == 0
    store.operations.insert(OperationRecord(id="op-2", type=OperationType.TERMINATE, service_id="s1"))
    assert again.scan() == 1 and again.deliver_due() == 1
    assert wire.bodies()[-1]["nsLcmOpOccId"] == "op-2"


def test_a_failure_carries_its_problem_details(store):
    wire = Wire()
    subscribe(store)
    store.operations.insert(OperationRecord(id="op-f", type=OperationType.HEAL, service_id="s1",
                                            state=OperationState.FAILED, error="the VIM refused"))
    notifier = n.Notifier(store, post=wire)
    notifier.scan()
    notifier.deliver_due()
    result = wire.bodies()[-1]
    assert (result["operationState"], result["notificationStatus"]) == ("FAILED", "RESULT")
    assert result["error"]["detail"] == "the VIM refused" and result["error"]["status"] == 500


def test_filters_choose_what_a_subscriber_hears_of(store):
    wire = Wire()
    only_terminations = subscribe(store, {"operationTypes": ["TERMINATE"], "operationStates": ["COMPLETED"]})
    only_s2 = subscribe(store, {"nsInstanceSubscriptionFilter": {"nsInstanceIds": ["s2"]}})
    no_ops = subscribe(store, {"notificationTypes": ["NsIdentifierCreationNotification"]})
    for op_id, kind, service in (("a", OperationType.INSTANTIATE, "s1"), ("b", OperationType.TERMINATE, "s1"),
                                 ("c", OperationType.SCALE_OUT, "s2")):
        store.operations.insert(OperationRecord(id=op_id, type=kind, service_id=service,
                                                state=OperationState.COMPLETED))
    notifier = n.Notifier(store, post=wire)
    notifier.scan()
    notifier.queue_identifier(n.CREATION, "s3", nsd_id="nsd", name="x")
    notifier.deliver_due()
    heard = {}
    for b in wire.bodies():
        heard.setdefault(b["subscriptionId"], []).append((b.get("nsLcmOpOccId"), b.get("operationState")))
    # SOL005: operationTypes and operationStates filter operation occurrence notifications only
    assert heard[only_terminations.id] == [("b", "COMPLETED"), (None, None)]
    assert heard[only_s2.id] == [("c", "PROCESSING"), ("c", "COMPLETED")]
    assert heard[no_ops.id] == [(None, None)]
    notifier.forget(no_ops.id)
    assert store.notifications.find({"subscription_id": no_ops.id}) == []


def test_a_change_before_the_subscription_is_not_sent(store):
    wire = Wire()
    earlier = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    store.operations.insert(OperationRecord(id="old", type=OperationType.INSTANTIATE, service_id="s1",
                                            created_at=earlier))
    subscribe(store)
    notifier = n.Notifier(store, post=wire)
    assert notifier.scan() == 0  # it started before anyone subscribed
    store.operations.mutate("old", lambda o: o.with_state(OperationState.COMPLETED))
    assert notifier.scan() == 1 and notifier.deliver_due() == 1
    assert wire.bodies()[0]["operationState"] == "COMPLETED"


def test_signatures_fail_on_a_changed_body_an_old_time_or_another_secret():
    header = n.sign("secret", b'{"a":1}', 1_000_000)
    assert n.verify("secret", header, b'{"a":1}', now=1_000_010)
    assert not n.verify("secret", header, b'{"a":2}', now=1_000_010)
    assert not n.verify("other", header, b'{"a":1}', now=1_000_010)
    assert not n.verify("secret", header, b'{"a":1}', now=1_000_000 + 301)
    assert not n.verify("secret", "nonsense", b'{"a":1}', now=1_000_000)


@pytest.mark.parametrize("request_body, problem", [
    ({"callbackUri": "not a url"}, "callbackUri"),
    ({"callbackUri": "http://x/n", "filter": {"operationTypes": ["REBOOT"]}}, "operationTypes"),
    ({"callbackUri": "http://x/n", "filter": {"nsStatus": "x"}}, "nsStatus"),
])
def test_a_malformed_subscription_request_says_where(request_body, problem):
    with pytest.raises(ValidationError) as caught:
        n.SubscriptionRequest.model_validate(request_body)
    assert problem in str(caught.value)


def test_authentication_other_than_basic_is_refused_with_why():
    oauth = n.SubscriptionRequest.model_validate({"callbackUri": "http://x/n", "authentication": {
        "authType": ["OAUTH2_CLIENT_CREDENTIALS"], "paramsOauth2ClientCredentials": {"clientId": "c"}}})
    with pytest.raises(n.UnsupportedAuthentication, match="BASIC only"):
        n.subscription_of(oauth, "s")
    basic = n.SubscriptionRequest.model_validate({"callbackUri": "http://x/n", "authentication": {
        "authType": ["BASIC"], "paramsBasic": {"userName": "u", "password": "p"}}})
    record = n.subscription_of(basic, "s")
    assert record.basic_auth == ("u", "p") and "password" not in json.dumps(n.lccn_subscription(record))
    assert n.basic_header(record.basic_auth) == "Basic dTpw"
