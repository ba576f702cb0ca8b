"""State machines: states, triggers and the tables of allowed transitions.

The statuses are part of the data model (:mod:`mano.records` stores them and checks their
transitions), so they live here, beside it, not in :mod:`mano.lifecycle`, which drives them.
This module imports nothing of mano but :mod:`mano.errors`.

Statuses are ``str`` enums so they serialise to readable strings in records, but they are
never written as bare strings: every change goes through :func:`transition`, which checks
the table and raises :class:`~mano.errors.InvalidTransitionError` otherwise. The SONATA
wire values (``normal operation`` / ``terminated`` on NSRs and VNFRs, ``READY`` / ``ERROR``
on the bus) are derived from these states at the edge.
"""
from __future__ import annotations

import enum
from typing import Mapping, TypeVar

from mano.errors import InvalidTransitionError


class ServiceState(str, enum.Enum):
    """Where one service instance is in its life."""

    INSTANTIATING = "INSTANTIATING"
    READY = "READY"
    SCALING = "SCALING"
    HEALING = "HEALING"
    MIGRATING = "MIGRATING"
    RECONFIGURING = "RECONFIGURING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"  # instantiation failed and was rolled back: nothing deployed

    @property
    def is_final(self) -> bool:
        return self in (ServiceState.TERMINATED, ServiceState.FAILED)

    @property
    def is_busy(self) -> bool:
        """A workflow is running; SONATA refuses a second one."""
        return self in _SERVICE_BUSY


_SERVICE_BUSY = frozenset({ServiceState.INSTANTIATING, ServiceState.SCALING, ServiceState.HEALING,
                           ServiceState.MIGRATING, ServiceState.RECONFIGURING, ServiceState.TERMINATING})

SERVICE_TRANSITIONS: Mapping[ServiceState, frozenset[ServiceState]] = {
    ServiceState.INSTANTIATING: frozenset({ServiceState.READY, ServiceState.FAILED}),
    ServiceState.READY: frozenset({ServiceState.SCALING, ServiceState.HEALING, ServiceState.MIGRATING,
                                   ServiceState.RECONFIGURING, ServiceState.TERMINATING}),
    # A scale/heal/migrate/reconfigure that fails is rolled back to the previous READY shape.
    ServiceState.SCALING: frozenset({ServiceState.READY}),
    ServiceState.HEALING: frozenset({ServiceState.READY}),
    ServiceState.MIGRATING: frozenset({ServiceState.READY}),
    ServiceState.RECONFIGURING: frozenset({ServiceState.READY}),
    # Termination is best effort: it always ends TERMINATED, with errors on the operation.
    ServiceState.TERMINATING: frozenset({ServiceState.TERMINATED}),
    ServiceState.TERMINATED: frozenset(),
    ServiceState.FAILED: frozenset(),
}


class VnfState(str, enum.Enum):
    """Where one VNF instance is in its life."""

    DEPLOYING = "DEPLOYING"
    DEPLOYED = "DEPLOYED"   # resources allocated on the VIM, not yet started
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"       # the VIM lost it (crash); heal re-deploys
    TERMINATED = "TERMINATED"


VNF_TRANSITIONS: Mapping[VnfState, frozenset[VnfState]] = {
    VnfState.DEPLOYING: frozenset({VnfState.DEPLOYED, VnfState.FAILED, VnfState.TERMINATED}),
    VnfState.DEPLOYED: frozenset({VnfState.RUNNING, VnfState.STOPPED, VnfState.FAILED, VnfState.TERMINATED}),
    VnfState.RUNNING: frozenset({VnfState.STOPPED, VnfState.FAILED, VnfState.TERMINATED}),
    VnfState.STOPPED: frozenset({VnfState.RUNNING, VnfState.FAILED, VnfState.TERMINATED}),
    VnfState.FAILED: frozenset({VnfState.DEPLOYING, VnfState.TERMINATED}),
    VnfState.TERMINATED: frozenset(),
}


class OperationType(str, enum.Enum):
    INSTANTIATE = "instantiate"
    TERMINATE = "terminate"
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    HEAL = "heal"
    MIGRATE = "migrate"
    RECONFIGURE = "reconfigure"


class OperationState(str, enum.Enum):
    """ETSI-like operation occurrence states (SOL003 LcmOperationStateType)."""

    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED_TEMP = "FAILED_TEMP"
    FAILED = "FAILED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"

    @property
    def is_final(self) -> bool:
        return self in (OperationState.COMPLETED, OperationState.FAILED, OperationState.ROLLED_BACK)

    @property
    def is_settled(self) -> bool:
        """Nothing runs it now: it is final, or FAILED_TEMP (a step failed temporarily past its
        retries; the operation waits for the operator to retry it or roll it back). Callers
        that wait for an operation wait until it is settled; only a final one frees its service."""
        return self.is_final or self is OperationState.FAILED_TEMP


# FAILED_TEMP is left only by the operator: retry (PROCESSING, from the failed step) or roll back.
OPERATION_TRANSITIONS: Mapping[OperationState, frozenset[OperationState]] = {
    OperationState.PROCESSING: frozenset({OperationState.COMPLETED, OperationState.FAILED_TEMP,
                                          OperationState.FAILED, OperationState.ROLLING_BACK}),
    OperationState.FAILED_TEMP: frozenset({OperationState.PROCESSING, OperationState.ROLLING_BACK,
                                           OperationState.FAILED}),
    OperationState.ROLLING_BACK: frozenset({OperationState.ROLLED_BACK, OperationState.FAILED}),
    OperationState.COMPLETED: frozenset(),
    OperationState.FAILED: frozenset(),
    OperationState.ROLLED_BACK: frozenset(),
}


class StepState(str, enum.Enum):
    """Progress of one named workflow step, persisted on the operation record."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    ROLLED_BACK = "ROLLED_BACK"


class PluginState(str, enum.Enum):
    """Plugin-manager view of a plugin (SONATA PM states, plus FAILED on missed heartbeats)."""

    REGISTERED = "REGISTERED"
    # What a SONATA plugin heartbeats once registered, asking to be started. Never stored, as in
    # SONATA's PM: it is answered with ``lifecycle.start``, and the plugin then reports RUNNING.
    READY = "READY"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


PLUGIN_TRANSITIONS: Mapping[PluginState, frozenset[PluginState]] = {
    PluginState.REGISTERED: frozenset({PluginState.RUNNING, PluginState.STOPPED, PluginState.FAILED}),
    PluginState.READY: frozenset(),  # never a stored state (see PluginState.READY)
    PluginState.RUNNING: frozenset({PluginState.PAUSED, PluginState.STOPPED, PluginState.FAILED}),
    PluginState.PAUSED: frozenset({PluginState.RUNNING, PluginState.STOPPED, PluginState.FAILED}),
    # A plugin that heartbeats again after a failure is running again (or, if it reports READY,
    # registered and waiting for its start).
    PluginState.FAILED: frozenset({PluginState.RUNNING, PluginState.PAUSED, PluginState.STOPPED,
                                   PluginState.REGISTERED}),
    PluginState.STOPPED: frozenset(),
}

S = TypeVar("S", bound=enum.Enum)


def transition(table: Mapping[S, frozenset[S]], current: S, target: S, *, what: str = "") -> S:
    """Return ``target`` if the table allows ``current -> target``; raise otherwise.

    A transition to the same state is allowed (idempotent re-application after a restart).
    """
    if current == target or target in table[current]:
        return target
    allowed = ", ".join(sorted(s.value for s in table[current])) or "none (final state)"
    label = f"{what} " if what else ""
    raise InvalidTransitionError(
        f"{label}cannot go from {current.value} to {target.value}; allowed: {allowed}")
