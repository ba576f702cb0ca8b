"""Typed records: what mano persists, one model per record kind (and per collection).

Design choices
--------------
* **Frozen pydantic models.** Records are values: a change is a *new* record (``with_step``,
  ``with_state``, ``model_copy(update=...)``), never an in-place edit, so a record read from the
  store can be handed to another actor or kept as "the version I started from" safely. Frozen
  covers attribute assignment; nested ``dict`` payloads (descriptors, SONATA sub-trees) stay
  plain dicts for fidelity and must be treated as read-only by convention.
* **``rev`` is the store revision** used for optimistic concurrency: the repository writes
  ``rev + 1`` only if the stored record still has ``rev`` (see ``mano.store.repository``). It
  is unrelated to the SONATA ``version`` string of NSRs/VNFRs, which stays exactly as SONATA
  has it (a string, +1 per SONATA update).
* **Timestamps are UTC, millisecond precision.** MongoDB stores milliseconds; truncating on the
  way in means a record read back compares equal to the one written.
* **SONATA records keep their wire shape.** :class:`NsrRecord` and :class:`VnfrRecord` allow
  extra fields and remember which fields the SONATA source carried, so
  ``from_sonata(x).to_sonata() == x`` for any SONATA record, including ones lacking fields the
  model declares (the IA's partial NSR) and repository copies keyed by ``uuid`` instead of
  ``id``. Records built in code emit all their non-empty declared fields.
* **Statuses are enums** (``mano.states`` plus :class:`SmType`, :class:`SmStatus`,
  :class:`SonataStatus` here); SONATA's wire strings appear only in the SONATA records.
"""
from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from typing_extensions import Self

from mano.states import (
    OPERATION_TRANSITIONS,
    OperationState,
    OperationType,
    PluginState,
    ServiceState,
    StepState,
    VnfState,
    transition,
)

__all__ = [
    "NetworkFunctionRef", "NsrRecord", "OperationRecord", "PluginRecord", "Record", "ServiceRecord",
    "NotificationRecord", "SmStatus", "SmType", "SonataStatus", "SpecificManagerRecord", "StepProgress",
    "SubscriptionRecord", "UtcDatetime", "VnfInstanceRef", "VnfrRecord", "utcnow",
]


def _to_utc_millis(value: dt.datetime) -> dt.datetime:
    """Normalise to aware UTC with millisecond precision (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_to_utc_millis)]
"""A datetime stored as aware UTC, truncated to milliseconds (MongoDB's precision)."""


def utcnow() -> dt.datetime:
    """The current time as a :data:`UtcDatetime` value."""
    return _to_utc_millis(dt.datetime.now(dt.timezone.utc))


class SmType(str, enum.Enum):
    """Specific manager kind: service-specific (SSM) or function-specific (FSM)."""

    SSM = "ssm"
    FSM = "fsm"


class SmStatus(str, enum.Enum):
    """Lifecycle of a specific manager in the registry (SONATA SMR replies, upper-cased)."""

    ONBOARDED = "ONBOARDED"
    INSTANTIATED = "INSTANTIATED"
    UPDATED = "UPDATED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"


class SonataStatus(str, enum.Enum):
    """The ``status`` values mano writes into NSRs/VNFRs (SONATA wire strings).

    The record field itself is a plain ``str`` because SONATA sources carry other values too
    (``offline``, ``DEPLOYED``, ``failed`` in the IA and repository fixtures).
    """

    NORMAL_OPERATION = "normal operation"
    TERMINATED = "terminated"


class Record(BaseModel):
    """Base of every stored record: an ``id`` (stored as ``_id``), a store revision ``rev`` and
    the fencing token ``fence`` of the last lease holder that wrote it (0: none did; see
    :mod:`mano.lifecycle.lease`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    rev: int = Field(default=0, ge=0)
    fence: int = Field(default=0, ge=0)

    def evolve(self, **changes: Any) -> Self:
        """A new record with ``changes`` applied *and validated*.

        Prefer it to ``model_copy(update=...)``, which skips validation: ``evolve(state="READY")``
        stores ``ServiceState.READY``, and a misspelt field is an error, not a silent extra.
        """
        return self.model_validate({**self.model_dump(), **changes})


# --- operations --------------------------------------------------------------------------------
class StepProgress(BaseModel):
    """Persisted progress of one named workflow step (STYLE practice 10).

    ``result`` is small JSON-able data a step hands to later steps and to rollback (e.g. the ids
    of the VNFs it deployed), so a restarted actor resumes without re-running a DONE step.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    state: StepState = StepState.PENDING
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None
    attempts: int = Field(default=0, ge=0)
    message: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class OperationRecord(Record):
    """One lifecycle operation occurrence (collection ``operations``).

    ``id`` is the operation id: the AMQP correlation id when the request came through the
    gateway, which makes requests idempotent by id.
    """

    type: OperationType
    service_id: str
    state: OperationState = OperationState.PROCESSING
    request: dict[str, Any] = Field(default_factory=dict)
    steps: tuple[StepProgress, ...] = ()
    error: str | None = None
    retries: int = 0  # how often the operator retried it from FAILED_TEMP
    created_at: UtcDatetime = Field(default_factory=utcnow)
    updated_at: UtcDatetime = Field(default_factory=utcnow)
    finished_at: UtcDatetime | None = None

    def step(self, name: str) -> StepProgress | None:
        """The progress of step ``name``, or None if the step has not been recorded yet."""
        return next((s for s in self.steps if s.name == name), None)

    def with_step(self, name: str, **changes: Any) -> Self:
        """A new record whose step ``name`` has ``changes`` applied (appended if new).

        Changes are validated (``state="DONE"`` becomes ``StepState.DONE``; unknown fields are
        refused), so a typo cannot silently create an untyped progress entry.
        """
        current = self.step(name)
        base = current.model_dump() if current else {"name": name}
        updated = StepProgress.model_validate({**base, **changes, "name": name})
        if current is None:
            steps = (*self.steps, updated)
        else:
            steps = tuple(updated if s.name == name else s for s in self.steps)
        return self.model_copy(update={"steps": steps})

    def with_state(self, state: OperationState, *, error: str | None = None) -> Self:
        """A new record in ``state``, checked against ``OPERATION_TRANSITIONS``.

        Entering a final state stamps ``finished_at``; ``error`` (if given) replaces the error.
        """
        target = transition(OPERATION_TRANSITIONS, self.state, state, what=f"operation {self.id}")
        update: dict[str, Any] = {"state": target}
        if error is not None:
            update["error"] = error
        if target.is_final and self.finished_at is None:
            update["finished_at"] = utcnow()
        return self.model_copy(update=update)


# --- services ----------------------------------------------------------------------------------
class VnfInstanceRef(BaseModel):
    """One VNF instance of a service, as the service record tracks its members: which network
    function of the NSD it is, where it was placed, and whether it still belongs to the service.

    The VNF's lifecycle state is its VNFR's alone (:attr:`VnfrRecord.vnf_state`, moved only by
    :func:`mano.lifecycle.states.transition`); the service keeps no second copy of it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)  # VNF instance uuid (= VNFR id)
    vnf_id: str  # the NSD network_functions vnf_id
    vnfd_name: str
    vnfd_vendor: str
    vnfd_version: str
    pop: str  # VIM uuid the instance is placed on
    terminated: bool = False  # removed (terminate, scale in, migrate); kept as the service's history

    @model_validator(mode="before")
    @classmethod
    def _membership_from_a_stored_state(cls, data: Any) -> Any:
        # Service records written before the VNF state was the VNFR's alone carried a copy of it.
        if isinstance(data, Mapping) and "state" in data:
            data = dict(data)
            state = data.pop("state")
            data.setdefault("terminated", VnfState(state) == VnfState.TERMINATED)
        return data

    @property
    def live(self) -> bool:
        """Still a member of its service (deployed or being deployed, not removed)."""
        return not self.terminated


class ServiceRecord(Record):
    """mano's internal desired/current state of one service instance (collection ``services``).

    ``id`` is the service instance uuid, which is also the NSR id (as in SONATA).
    """

    name: str
    nsd: dict[str, Any]
    vnfds: tuple[dict[str, Any], ...] = ()
    state: ServiceState = ServiceState.INSTANTIATING
    vim: str
    vnf_instances: tuple[VnfInstanceRef, ...] = ()
    current_operation: str | None = None
    nsr_version: int = Field(default=0, ge=0)
    networks: dict[str, str] = Field(default_factory=dict)  # NSD virtual link id -> VIM network id
    user_data: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utcnow)
    updated_at: UtcDatetime = Field(default_factory=utcnow)

    def vnf_instance(self, instance_id: str) -> VnfInstanceRef | None:
        """The VNF instance with that uuid, or None."""
        return next((v for v in self.vnf_instances if v.id == instance_id), None)

    def with_vnf_instance(self, instance: VnfInstanceRef) -> Self:
        """A new record with ``instance`` added, or replacing the one with the same id."""
        if self.vnf_instance(instance.id) is None:
            instances = (*self.vnf_instances, instance)
        else:
            instances = tuple(instance if v.id == instance.id else v for v in self.vnf_instances)
        return self.model_copy(update={"vnf_instances": instances})

    def without_vnf_instance(self, instance_id: str) -> Self:
        """A new record without the VNF instance ``instance_id`` (no-op if absent)."""
        instances = tuple(v for v in self.vnf_instances if v.id != instance_id)
        return self.model_copy(update={"vnf_instances": instances})


# --- SONATA records ----------------------------------------------------------------------------
_FROM_SONATA = "mano.records.from_sonata"


class _SonataRecord(Record):
    """Common shape of SONATA records: extra fields allowed, source shape remembered.

    pydantic's ``model_fields_set`` is the memory of "which fields the source had": records
    made by :meth:`from_sonata` emit exactly the source's fields; records built in code mark all
    their non-None declared fields as set, so defaults such as ``descriptor_version`` appear on
    the wire. ``model_copy(update=...)`` adds the updated fields to the set.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    STORE_FIELDS: ClassVar[frozenset[str]] = frozenset({"rev", "fence"})
    """Fields that belong to mano's store, never to the SONATA record."""

    version: str = "1"  # SONATA's own record version (a string, +1 per update), not ``rev``

    @model_validator(mode="after")
    def _emit_declared_fields_unless_from_sonata(self, info: ValidationInfo) -> Self:
        if not (info.context or {}).get(_FROM_SONATA):
            declared = type(self).model_fields
            self.__pydantic_fields_set__.update(n for n in declared if getattr(self, n) is not None)
        return self

    @classmethod
    def from_sonata(cls, data: Mapping[str, Any], *, record_id: str | None = None,
                    **store_fields: Any) -> Self:
        """Load a SONATA record (a dict as found on the wire or in SONATA's repository).

        The id is ``data["id"]``; SONATA repository copies carry ``uuid`` instead, and the store
        passes ``record_id``. An id not taken from ``data["id"]`` is not emitted by
        :meth:`to_sonata`, so the round trip is exact. ``store_fields`` (``rev``, ...) are
        mano's own and never part of the SONATA dict.
        """
        unknown = set(store_fields) - cls.STORE_FIELDS
        if unknown:
            raise TypeError(f"{cls.__name__}.from_sonata: not store fields: {sorted(unknown)}")
        body = {k: v for k, v in data.items() if k not in cls.STORE_FIELDS}
        id_on_wire = "id" in body
        if not id_on_wire:
            body["id"] = record_id if record_id is not None else data.get("uuid")
        record = cls.model_validate({**body, **store_fields}, context={_FROM_SONATA: True})
        if not id_on_wire:
            record.__pydantic_fields_set__.discard("id")
        return record

    def evolve(self, **changes: Any) -> Self:
        """A new record with validated ``changes``; keeps the SONATA source's field set."""
        fields_set = self.model_fields_set | set(changes)
        new = self.model_validate({**self.model_dump(), **changes}, context={_FROM_SONATA: True})
        new.__pydantic_fields_set__.intersection_update(fields_set)
        return new

    def to_sonata(self) -> dict[str, Any]:
        """The SONATA dict: the source's fields (or all set fields), without store fields."""
        keys = (self.model_fields_set | set(self.model_extra or {})) - self.STORE_FIELDS
        return self.model_dump(include=keys)

    def with_next_version(self, **changes: Any) -> Self:
        """A new record with SONATA ``version`` + 1 (SONATA bumps it on every update)."""
        return self.evolve(**changes, version=str(int(self.version or 0) + 1))


class NetworkFunctionRef(BaseModel):
    """An entry of ``NSR.network_functions``."""

    model_config = ConfigDict(frozen=True, extra="allow")

    vnfr_id: str


class NsrRecord(_SonataRecord):
    """A SONATA network service record (collection ``nsr``); ``id`` = service instance uuid."""

    descriptor_version: str = "nsr-schema-01"
    status: str
    descriptor_reference: str
    network_functions: list[NetworkFunctionRef] = Field(default_factory=list)
    virtual_links: list[dict[str, Any]] = Field(default_factory=list)
    forwarding_graphs: list[dict[str, Any]] = Field(default_factory=list)
    sla_id: str | None = None
    policy_id: str | None = None
    flavour: str | None = None
    params: dict[str, Any] | None = None


class VnfrRecord(_SonataRecord):
    """A SONATA VNF record (collection ``vnfr``); ``id`` = VNF instance uuid.

    The store fields are mano's own and never part of the SONATA dict: ``service_id`` links
    the owning service instance (SONATA keeps that link only in the NSR; indexed), and
    ``vnf_state`` / ``pop`` / ``vim`` carry the VNF instance's lifecycle state and placement, so
    the VNFR is the one record of a VNF instance.
    """

    STORE_FIELDS: ClassVar[frozenset[str]] = frozenset({"rev", "fence", "service_id", "vnf_state", "pop", "vim",
                                                        "envs"})

    service_id: str | None = None
    vnf_state: VnfState = VnfState.DEPLOYING  # the VNF instance's own lifecycle state
    pop: str | None = None  # VIM uuid the instance runs on
    vim: str = "emulated"  # VIM driver kind
    # The environment the VNF was last configured with (reconfigure, a configure SSM/FSM):
    # SONATA's env injection, re-applied when the VNF is healed.
    envs: dict[str, str] = Field(default_factory=dict)
    descriptor_version: str = "vnfr-schema-01"
    name: str | None = None
    status: str
    descriptor_reference: str
    virtual_deployment_units: list[dict[str, Any]] = Field(default_factory=list)
    cloudnative_deployment_units: list[dict[str, Any]] | None = None
    virtual_links: list[dict[str, Any]] = Field(default_factory=list)
    flavour: str | None = None


# --- plugins and specific managers -------------------------------------------------------------
class PluginRecord(Record):
    """A plugin registered with the plugin manager (collection ``plugins``); ``id`` = uuid."""

    name: str
    version: str
    description: str = ""
    state: PluginState = PluginState.REGISTERED
    registered_at: UtcDatetime = Field(default_factory=utcnow)
    last_heartbeat_at: UtcDatetime | None = None


class SpecificManagerRecord(Record):
    """One SSM/FSM in the specific manager registry (collection ``specific_managers``).

    ``sm_id`` is the descriptor's ``specific_manager_id`` (e.g. ``sonssmservice1placement1``);
    ``owner_id`` the service or VNF instance it manages; ``sm_kind`` the ``type`` option
    (``placement``, ``task``, ``start``, ...), None for an untyped SM.
    """

    sm_id: str
    sm_type: SmType
    owner_id: str
    image: str
    version: str = "0.1"
    sm_kind: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    status: SmStatus = SmStatus.ONBOARDED
    error: str | None = None
    created_at: UtcDatetime = Field(default_factory=utcnow)
    updated_at: UtcDatetime = Field(default_factory=utcnow)


# --- gateway -----------------------------------------------------------------------------------
class GatewayReplyRecord(Record):
    """A final reply the AMQP gateway owes a gatekeeper (collection ``gateway_replies``; ``id`` =
    the operation id, which is the request's correlation id). Written once the request is
    admitted, deleted once the broker confirmed the final reply: the collection holds only what
    is owed, so a restarted gateway still sends it and the watcher never scans old operations.
    The gateway is its only writer; the operation record stays the lifecycle's alone.
    """

    topic: str
    """The northbound topic the request came on; replies go back on it."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Fields of the request that SONATA echoes in every reply (e.g. scaling's ``vnf_id``)."""
    created_at: UtcDatetime = Field(default_factory=utcnow)


# --- SOL005 northbound --------------------------------------------------------------------------
class NsdInfoRecord(Record):
    """An NSD onboarded through the SOL005 API (collection ``ns_descriptors``; ``id`` = the
    ``NsdInfo`` id): CREATED until its content is uploaded, then ONBOARDED with the package's
    NSD and VNFDs as validated documents."""

    onboarding_state: str = "CREATED"  # CREATED | ONBOARDED (SOL005's NsdOnboardingStateType)
    nsd: dict[str, Any] | None = None
    vnfds: tuple[dict[str, Any], ...] = ()
    user_defined_data: dict[str, Any] = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utcnow)


class NsIdentifierRecord(Record):
    """An NS instance identifier created through the SOL005 API (collection ``ns_identifiers``;
    ``id`` = the ``NsInstance`` id): NOT_INSTANTIATED until its instantiation, whose service
    record takes the same id."""

    nsd_info_id: str
    name: str
    description: str = ""
    created_at: UtcDatetime = Field(default_factory=utcnow)


class SubscriptionRecord(Record):
    """A SOL005 subscription to NS lifecycle notifications (collection ``subscriptions``; ``id`` =
    the ``LccnSubscription`` id): where to POST them, which to send (``filter``, SOL005's
    ``LifecycleChangeNotificationsFilter`` as validated), how to authenticate to the receiver
    (``basic_auth``: SOL013's BASIC user and password) and the secret the body is signed with."""

    callback_uri: str
    filter: dict[str, Any] = Field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    secret: str
    created_at: UtcDatetime = Field(default_factory=utcnow)


class NotificationRecord(Record):
    """One notification owed to one subscriber (collection ``notifications``, the outbox): queued
    once per change (``id`` derives from the subscription and the change, so queuing it again is
    a no-op), POSTed until the receiver accepts it. ``seq`` orders a subscriber's notifications."""

    subscription_id: str
    seq: str
    """``<change time>|<tie-break>``: the subscriber's notifications are sent in this order."""
    body: dict[str, Any]
    delivered: bool = False
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: float = 0.0
    """Wall-clock time (seconds since the epoch) before which it is not tried again."""
    last_error: str | None = None
    created_at: UtcDatetime = Field(default_factory=utcnow)
    delivered_at: UtcDatetime | None = None


# --- cancellations -----------------------------------------------------------------------------
class CancelRequestRecord(Record):
    """An operator's request to stop a running operation (collection ``cancellations``; ``id`` =
    the operation id). Its own record, not a field of the operation's: the operation record has
    one writer, the runner, whose revision-checked writes a second writer would break. The
    runner reads it at each step boundary; the operator's retry or rollback of the operation,
    once it is FAILED_TEMP, deletes it."""

    service_id: str
    reason: str
    requested_at: UtcDatetime = Field(default_factory=utcnow)


# --- leases ------------------------------------------------------------------------------------
class LeaseRecord(Record):
    """Who may run an instance's steps now (collection ``leases``; ``id`` = ``service:<uuid>`` or
    ``vnf:<uuid>``). See :mod:`mano.lifecycle.lease`.

    ``token`` is the fencing token: it grows by one each time another activation takes the
    lease, and every record that activation writes carries it. ``expires_at`` is wall-clock
    time (seconds since the epoch): leases are compared across hosts, so their clocks must agree
    to well within a lease's time to live.
    """

    holder: str
    """The activation's stable identity (a Ray actor id, or ``host:pid``)."""
    incarnation: str
    """The process that holds it for the holder: a restarted actor is a new incarnation."""
    token: int = Field(ge=1)
    expires_at: float
    released: bool = False
