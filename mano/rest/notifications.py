"""SOL005 NS lifecycle notifications: subscriptions, the outbox, and delivery to the subscribers.

A subscriber registers a callback URI (``POST /nslcm/v1/subscriptions``, a
``LccnSubscriptionRequest``); mano checks the URI answers a GET with 204 first, as SOL005 asks.
From then on:

* :meth:`Notifier.scan` reads the operations changed since its last scan from the store (the
  runner persists every state before anything announces it) and queues, in the
  ``notifications`` collection, one ``NsLcmOperationOccurrenceNotification`` per change per
  matching subscription: ``START`` when an attempt begins (PROCESSING, again after each retry)
  or a rollback begins (ROLLING_BACK), ``RESULT`` for FAILED_TEMP, COMPLETED, FAILED and
  ROLLED_BACK. A change the scan did not see happen (two changes between scans) is queued all
  the same: an operation's record says which changes it went through. A notification's id
  derives from the subscription and the change, so queuing it twice, from a scan that overlaps
  the last or from a restarted server, queues it once.
* :meth:`Notifier.deliver_due` POSTs each subscriber's notifications in order. A receiver that
  is down or answers other than 2xx is tried again later (0.5 s, doubling, at most 30 s apart)
  and the notifications queued after it wait behind it: nothing is dropped, nothing overtakes.
  Each POST carries ``X-Mano-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
  with the subscription's secret (answered once, when it is created), and SOL013's BASIC
  credentials when the subscription gave them.

:class:`NotifierThread` runs both every ``poll_s`` beside the HTTP server. One API server per
store is assumed: two would each deliver every notification once.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Iterable, Literal, Mapping

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from mano.errors import DuplicateRecordError, ManoError
from mano.records import NotificationRecord, OperationRecord, SubscriptionRecord
from mano.rest import sol005
from mano.states import OperationState

log = logging.getLogger(__name__)

OP_OCC = "NsLcmOperationOccurrenceNotification"
CREATION = "NsIdentifierCreationNotification"
DELETION = "NsIdentifierDeletionNotification"
SIGNATURE_HEADER = "X-Mano-Signature"

LcmOperationType = Literal["INSTANTIATE", "SCALE", "UPDATE", "TERMINATE", "HEAL"]
OperationStateName = Literal["PROCESSING", "COMPLETED", "FAILED_TEMP", "FAILED", "ROLLING_BACK", "ROLLED_BACK"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NsInstanceSubscriptionFilter(_Strict):
    """Which NS instances (any, when empty): by NSD, by instance id or by name."""

    nsdIds: tuple[str, ...] = ()
    nsInstanceIds: tuple[str, ...] = ()
    nsInstanceNames: tuple[str, ...] = ()


class LifecycleChangeNotificationsFilter(_Strict):
    """SOL005's filter; every list left empty matches everything."""

    nsInstanceSubscriptionFilter: NsInstanceSubscriptionFilter | None = None
    notificationTypes: tuple[Literal["NsLcmOperationOccurrenceNotification", "NsIdentifierCreationNotification",
                                     "NsIdentifierDeletionNotification"], ...] = ()
    operationTypes: tuple[LcmOperationType, ...] = ()
    operationStates: tuple[OperationStateName, ...] = ()


class BasicParams(_Strict):
    userName: str = Field(min_length=1)
    password: str


class SubscriptionAuthentication(_Strict):
    """SOL013's: mano authenticates to a receiver with BASIC only."""

    authType: tuple[Literal["BASIC", "OAUTH2_CLIENT_CREDENTIALS", "TLS_CERT"], ...] = Field(min_length=1)
    paramsBasic: BasicParams | None = None
    paramsOauth2ClientCredentials: dict[str, Any] | None = None


class SubscriptionRequest(_Strict):
    """A ``LccnSubscriptionRequest``."""

    callbackUri: AnyHttpUrl
    filter: LifecycleChangeNotificationsFilter | None = None
    authentication: SubscriptionAuthentication | None = None


class UnsupportedAuthentication(ManoError):
    """The subscription asks for an authentication mano does not do (only BASIC)."""


def subscription_of(request: SubscriptionRequest, subscription_id: str) -> SubscriptionRecord:
    """The record a valid request becomes, with a new secret to sign its notifications with."""
    auth = request.authentication
    basic: tuple[str, str] | None = None
    if auth is not None:
        others = sorted(set(auth.authType) - {"BASIC"})
        if others:
            raise UnsupportedAuthentication(f"authentication.authType {others[0]}: mano authenticates to a "
                                            "notification receiver with BASIC only")
        if auth.paramsBasic is None:
            raise UnsupportedAuthentication("authentication.paramsBasic: BASIC needs a userName and a password")
        basic = (auth.paramsBasic.userName, auth.paramsBasic.password)
    flt = request.filter.model_dump(mode="json", exclude_defaults=True) if request.filter else {}
    return SubscriptionRecord(id=subscription_id, callback_uri=str(request.callbackUri), filter=flt,
                              basic_auth=basic, secret=secrets.token_hex(32))


def lccn_subscription(record: SubscriptionRecord) -> dict[str, Any]:
    """The ``LccnSubscription`` (never with its secret or credentials)."""
    body: dict[str, Any] = {"id": record.id, "callbackUri": record.callback_uri,
                            "_links": {"self": {"href": f"{sol005.ROOT}/subscriptions/{record.id}"}}}
    if record.filter:
        body["filter"] = dict(record.filter)
    return body


# --- which changes an operation went through ---------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Change:
    """One change of an operation occurrence a subscriber hears of."""

    key: str
    """``<op id>|<attempt>|<state>``: the same change always has the same key."""
    state: OperationState
    status: Literal["START", "RESULT"]
    at: dt.datetime


def changes_of(op: OperationRecord) -> list[Change]:
    """The changes ``op`` has been through, oldest first, as far as its record tells: every
    earlier attempt began and was held (only a FAILED_TEMP operation is retried); the current one
    began, and was held, rolled back or ended as its state says."""
    s = OperationState
    out: list[Change] = []

    def add(attempt: int, state: OperationState, at: dt.datetime) -> None:
        status: Literal["START", "RESULT"] = "START" if state in (s.PROCESSING, s.ROLLING_BACK) else "RESULT"
        out.append(Change(f"{op.id}|{attempt}|{state.value}", state, status, at))

    for attempt in range(op.retries):
        add(attempt, s.PROCESSING, op.created_at if attempt == 0 else op.updated_at)
        add(attempt, s.FAILED_TEMP, op.updated_at)
    add(op.retries, s.PROCESSING, op.created_at if op.retries == 0 else op.updated_at)
    if op.state in (s.ROLLING_BACK, s.ROLLED_BACK):
        add(op.retries, s.ROLLING_BACK, op.updated_at)
    if op.state != s.PROCESSING and op.state != s.ROLLING_BACK:
        add(op.retries, op.state, op.finished_at or op.updated_at)
    return out


def matches(flt: Mapping[str, Any], notification_type: str, ns_instance_id: str, *, nsd_id: str | None = None,
            ns_name: str | None = None, operation: str | None = None, state: str | None = None) -> bool:
    """Whether a stored filter (:class:`LifecycleChangeNotificationsFilter` as JSON) lets it through."""
    types = flt.get("notificationTypes") or ()
    if types and notification_type not in types:
        return False
    which = flt.get("nsInstanceSubscriptionFilter") or {}
    for field, value in (("nsInstanceIds", ns_instance_id), ("nsdIds", nsd_id), ("nsInstanceNames", ns_name)):
        if which.get(field) and value not in which[field]:
            return False
    if notification_type == OP_OCC:
        if flt.get("operationTypes") and operation not in flt["operationTypes"]:
            return False
        if flt.get("operationStates") and state not in flt["operationStates"]:
            return False
    return True


def _time(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _links(subscription_id: str, ns_instance_id: str) -> dict[str, Any]:
    return {"nsInstance": {"href": f"{sol005.ROOT}/ns_instances/{ns_instance_id}"},
            "subscription": {"href": f"{sol005.ROOT}/subscriptions/{subscription_id}"}}


def op_occ_notification(notification_id: str, subscription_id: str, op: OperationRecord, change: Change) -> dict[str, Any]:
    """A ``NsLcmOperationOccurrenceNotification`` of ``change`` of ``op``."""
    body: dict[str, Any] = {
        "id": notification_id, "notificationType": OP_OCC, "subscriptionId": subscription_id,
        "timeStamp": _time(change.at), "notificationStatus": change.status, "operationState": change.state.value,
        "nsInstanceId": op.service_id, "nsLcmOpOccId": op.id, "operation": sol005.LCM_OPERATION_TYPE[op.type],
        "isAutomaticInvocation": bool(op.request.get("automatic", False)),
        "_links": {**_links(subscription_id, op.service_id),
                   "nsLcmOpOcc": {"href": f"{sol005.ROOT}/ns_lcm_op_occs/{op.id}"}},
    }
    if change.state in (OperationState.FAILED, OperationState.FAILED_TEMP) and change.state == op.state and op.error:
        body["error"] = sol005.problem(500 if op.state == OperationState.FAILED else 409, "Operation failed",
                                       op.error, instance=f"{sol005.ROOT}/ns_lcm_op_occs/{op.id}")
    return body


def notification_id(subscription_id: str, key: str) -> str:
    return hashlib.sha256(f"{subscription_id}|{key}".encode()).hexdigest()[:32]


# --- signing -----------------------------------------------------------------------------------
def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Mano-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str | None, body: bytes, *, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """For a receiver: ``header`` is a signature of ``body`` with ``secret``, made within
    ``tolerance_s`` of ``now`` (a replayed old notification fails)."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")


# --- the outbox --------------------------------------------------------------------------------
Post = Callable[[SubscriptionRecord, bytes, dict[str, str]], None]


def http_post(timeout_s: float) -> Post:
    """POST with the standard library (raises on a refusal, a timeout or a non-2xx answer)."""
    def post(subscription: SubscriptionRecord, body: bytes, headers: dict[str, str]) -> None:
        request = urllib.request.Request(subscription.callback_uri, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked
            if not 200 <= response.status < 300:
                raise OSError(f"answered {response.status}")
    return post


def basic_header(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()


def test_callback(subscription: SubscriptionRecord, timeout_s: float = 5.0) -> str | None:
    """SOL005's check of a new subscription's endpoint: a GET answered 204. None if it was, else why not."""
    headers = {"Authorization": basic_header(subscription.basic_auth)} if subscription.basic_auth else {}
    request = urllib.request.Request(subscription.callback_uri, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return f"callbackUri {subscription.callback_uri}: the test GET failed ({exc})"
    if status != 204:
        return f"callbackUri {subscription.callback_uri}: the test GET was answered {status}, not 204 No Content"
    return None


class Notifier:
    """Queues and delivers notifications (see the module doc); synchronous, for a thread or a test."""

    OVERLAP_S = 5.0
    """Each scan reads back this far before the last one: writers' clocks and the store's
    commit order may differ by that much."""
    MAX_BACKOFF_S = 30.0

    def __init__(self, store: Any, *, post: Post | None = None, clock: Callable[[], float] = time.time,
                 timeout_s: float = 5.0):
        self.store = store
        self._post = post or http_post(timeout_s)
        self._clock = clock
        self._since: dt.datetime | None = None
        self._queued: dict[str, float] = {}  # ids queued lately, so that overlapping scans skip them
        self._lock = threading.Lock()  # the API's handlers queue too, from their own threads

    # queueing
    def scan(self) -> int:
        """Queue the notifications of the operations changed since the last scan; how many were new."""
        subscriptions = self.store.subscriptions.find({})
        started = dt.datetime.fromtimestamp(self._clock(), dt.timezone.utc)
        if not subscriptions:
            self._since = started
            return 0
        since = self._since or self._resume_point(subscriptions)
        ops = self.store.operations.find({"updated_at": {"$gte": since - dt.timedelta(seconds=self.OVERLAP_S)}},
                                         sort="updated_at")
        services = {}
        queued = 0
        for op in ops:
            if op.service_id not in services:
                services[op.service_id] = self.store.services.find_one(op.service_id)
            queued += self._queue_op(op, subscriptions, services[op.service_id])
        self._since = started
        self._forget_old()
        return queued

    def _resume_point(self, subscriptions: list[SubscriptionRecord]) -> dt.datetime:
        """Where a new notifier starts: at what it queued last (a restarted server catches up on
        what changed while it was down), but never before the oldest subscription."""
        oldest = min(s.created_at for s in subscriptions)
        newest = self.store.notifications.find({}, sort="-created_at", limit=1)
        return max(oldest, newest[0].created_at) if newest else oldest

    def _queue_op(self, op: OperationRecord, subscriptions: Iterable[SubscriptionRecord], service: Any) -> int:
        nsd_id = sol005.nsd_id_of(service.nsd) if service is not None else None
        name = service.name if service is not None else None
        identifier = self.store.ns_identifiers.find_one(op.service_id) if service is not None else None
        names = {name, identifier.name if identifier else None} - {None}
        queued = 0
        for position, change in enumerate(changes_of(op)):
            for sub in subscriptions:
                if change.at < sub.created_at:
                    continue  # it happened before the subscription
                if not any(matches(sub.filter, OP_OCC, op.service_id, nsd_id=nsd_id, ns_name=n,
                                   operation=sol005.LCM_OPERATION_TYPE[op.type], state=change.state.value)
                           for n in (names or {None})):
                    continue
                nid = notification_id(sub.id, change.key)
                body = op_occ_notification(nid, sub.id, op, change)
                queued += self._queue(sub.id, nid, body, f"{op.created_at.isoformat()}|{op.id}|{position:03d}")
        return queued

    def queue_identifier(self, kind: str, ns_instance_id: str, *, nsd_id: str | None, name: str | None) -> int:
        """Queue an ``NsIdentifierCreationNotification`` or ``...DeletionNotification``."""
        queued = 0
        for sub in self.store.subscriptions.find({}):
            if matches(sub.filter, kind, ns_instance_id, nsd_id=nsd_id, ns_name=name):
                nid = notification_id(sub.id, f"{ns_instance_id}|{kind}")
                body = {"id": nid, "notificationType": kind, "subscriptionId": sub.id,
                        "timeStamp": _time(dt.datetime.fromtimestamp(self._clock(), dt.timezone.utc)),
                        "nsInstanceId": ns_instance_id, "_links": _links(sub.id, ns_instance_id)}
                queued += self._queue(sub.id, nid, body, f"{body['timeStamp']}|{ns_instance_id}|000")
        return queued

    def _queue(self, subscription_id: str, nid: str, body: dict[str, Any], order: str) -> int:
        with self._lock:
            return self._queue_once(subscription_id, nid, body, order)

    def _queue_once(self, subscription_id: str, nid: str, body: dict[str, Any], order: str) -> int:
        if nid in self._queued:
            return 0
        # seq: when it was queued first, then the change's place: a subscriber hears of changes
        # in the order they were seen, and of one operation's changes in the order they happened
        seq = f"{self._clock():017.6f}|{order}"
        try:
            self.store.notifications.insert(NotificationRecord(id=nid, subscription_id=subscription_id, seq=seq,
                                                               body=body))
        except DuplicateRecordError:
            self._queued[nid] = self._clock()
            return 0
        self._queued[nid] = self._clock()
        return 1

    def _forget_old(self) -> None:
        horizon = self._clock() - 4 * self.OVERLAP_S
        with self._lock:
            for nid in [n for n, at in self._queued.items() if at < horizon]:
                del self._queued[nid]

    # delivery
    def deliver_due(self, batch: int = 50) -> int:
        """POST what is due to every subscriber, in order; how many were delivered."""
        delivered = 0
        for sub in self.store.subscriptions.find({}):
            for note in self.store.notifications.owed(sub.id, limit=batch):
                now = self._clock()
                if note.next_attempt_at > now or not self._deliver(sub, note, now):
                    break  # the ones queued after it wait: a subscriber hears of changes in order
                delivered += 1
        return delivered

    def _deliver(self, sub: SubscriptionRecord, note: NotificationRecord, now: float) -> bool:
        body = json.dumps(note.body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Version": "3.7.1",
                   SIGNATURE_HEADER: sign(sub.secret, body, int(now))}
        if sub.basic_auth:
            headers["Authorization"] = basic_header(sub.basic_auth)
        try:
            self._post(sub, body, headers)
        except Exception as exc:  # noqa: BLE001 - any failure is the receiver's: try again later
            backoff = min(self.MAX_BACKOFF_S, 0.5 * 2 ** note.attempts)
            self.store.notifications.update(note.evolve(attempts=note.attempts + 1, next_attempt_at=now + backoff,
                                                        last_error=f"{type(exc).__name__}: {exc}"[:500]))
            log.info("notification %s to %s failed (attempt %d): %s", note.id, sub.callback_uri,
                     note.attempts + 1, exc)
            return False
        self.store.notifications.update(note.evolve(attempts=note.attempts + 1, delivered=True,
                                                    delivered_at=dt.datetime.now(dt.timezone.utc), last_error=None))
        return True

    def forget(self, subscription_id: str) -> None:
        """A subscription deleted: what it was still owed is dropped with it."""
        for note in self.store.notifications.find({"subscription_id": subscription_id}):
            self.store.notifications.delete(note.id, missing_ok=True)


class NotifierThread:
    """Runs a :class:`Notifier`'s scan and delivery every ``poll_s`` on a daemon thread."""

    def __init__(self, notifier: Notifier, poll_s: float = 0.25):
        self.notifier, self._poll_s = notifier, poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mano-notifier", daemon=True)

    def start(self) -> "NotifierThread":
        self._thread.start()
        return self

    def wake(self) -> None:
        """Scan now (a change was just made through the API)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.notifier.scan()
                self.notifier.deliver_due()
            except Exception:  # noqa: BLE001 - a store outage must not end the thread
                log.exception("notifications: scan or delivery failed; trying again")
            self._wake.wait(self._poll_s)
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
