"""What each lifecycle step returns: one frozen, typed result per step.

A step's result is kept on the operation record (``StepRecord.result``), so that later steps and
rollback, possibly in another process after a crash, know what it did: which instances were
placed where, which VNFs were deployed, which are the victims of a scale-in. Steps return these
models; the workflow runner stores their :meth:`StepResult.to_record` form (plain JSON, no empty
fields: the shape the records always had), and a later step reads one back typed with
``ctx.result("place", Placed)``.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class StepResult(BaseModel):
    """Base of every step's result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_record(self) -> dict[str, Any]:
        """The result as the operation record keeps it."""
        return self.model_dump(mode="json", exclude_none=True)


class _SmOverride(StepResult):
    """For steps a specific manager may override: who answered, or why the default ran."""

    override: str | None = None  # the SSM/FSM that answered
    fallback: str | None = None  # why the default ran although a specific manager was declared


class Validated(StepResult):
    vnfs: tuple[str, ...]  # the NSD's network functions, each with its VNFD


class PlacedInstance(BaseModel):
    """One new VNF instance and the PoP it goes to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    vnf_id: str
    pop: str


class Placed(_SmOverride):
    instances: tuple[PlacedInstance, ...] = ()
    placement: dict[str, Any] = {}  # how: solver, objective, gap, seconds, any fallback (PlacementOutcome.summary)


class SmsOnboarded(StepResult):
    specific_managers: tuple[str, ...] = ()  # "<type>:<id> <status>" each
    fallback: str | None = None


class TaskScheduled(_SmOverride):
    schedule: tuple[str, ...]  # the instantiation's remaining steps, in the order they run


class NetworksCreated(StepResult):
    networks: dict[str, dict[str, str]]  # virtual link id -> {id, cidr}


class VnfsDeployed(StepResult):
    vnfrs: tuple[str, ...]
    started: tuple[str, ...] = ()  # started in the same call (FunctionDeployment.start)


class VnfsStarted(StepResult):
    started: tuple[str, ...]
    fsm: dict[str, Any] | None = None  # per instance: how its start FSM went


class VnfsConfigured(_SmOverride):
    configured: tuple[str, ...]
    config: dict[str, Any] | None = None  # the configure SSM's answer, per VNF
    envs: dict[str, dict[str, str]] | None = None  # the environment given to each VNF instance
    fsm: dict[str, Any] | None = None  # how each VNF's configure FSM went


class StateTransferred(_SmOverride):
    """A migration's state transfer: from the old instance to the new one (None: stateless)."""

    extracted_from: str | None = None
    injected_into: str | None = None
    state_ssm: str | None = None  # the state SSM that reworked it on the way
    envs: dict[str, str] | None = None  # what the inject answer set on the new instance


class RecordsStored(StepResult):
    nsr_version: int


class VictimsSelected(StepResult):
    victims: tuple[str, ...]


class VnfsStopped(StepResult):
    stopped: tuple[str, ...]
    errors: tuple[str, ...] = ()
    fsm: dict[str, Any] | None = None


class VnfsRemoved(StepResult):
    removed: tuple[str, ...]
    errors: tuple[str, ...] = ()


class BestEffort(StepResult):
    """A step that goes on whatever fails (termination's): what failed."""

    errors: tuple[str, ...] = ()


class VnfHealed(StepResult):
    healed: str
    vnfr_version: str | None = None
