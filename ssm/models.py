"""The typed requests a specific manager receives and the answers it gives.

One model per hook input and one per answer (STYLE practice 12), shared by both sides of the
contract: the SM side (:mod:`ssm.runtime`) validates requests into these models before a hook
sees them; the registry side (:mod:`mano.sm.validation`) validates answers with the same
models and then checks them against the request (a placement must name PoPs that exist, a
task schedule must keep the required steps, ...).

Requests allow extra fields (the orchestrator may send more than a hook reads); answers ignore
unknown fields (SONATA SMs add ``status``/``error`` to everything). Answer models also accept
the shapes SONATA's SMs used (``{mapping: {vnf: {vim: x}}}``, ``{vnf: [{id, ...}]}``,
lower-case ``completed``), so a port of an old SM keeps working.

This module imports nothing from mano: the SDK runs inside SM containers that only carry
Python, pydantic, PyYAML and pika.
"""
from __future__ import annotations

import enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

__all__ = [
    "Alert", "CduEnvs", "ConfigureFunction", "ConfigureRequest", "ConfigureResponse", "FsmKind",
    "FsmRequest", "FsmResponse", "ManagerType", "MonitorAlert", "PlacementFunction", "PlacementRequest",
    "PlacementResponse", "Pop", "SmContext", "SsmKind", "StateRequest", "StateResponse", "TaskRequest",
    "TaskResponse", "Workflow", "WorkflowRequest",
]


class ManagerType(str, enum.Enum):
    """Service-specific (SSM) or function-specific (FSM) manager."""

    SSM = "ssm"
    FSM = "fsm"


class SsmKind(str, enum.Enum):
    """The lifecycle events an SSM may override (its ``type`` options)."""

    TASK = "task"
    PLACEMENT = "placement"
    CONFIGURE = "configure"
    MONITOR = "monitor"
    STATE = "state"


class FsmKind(str, enum.Enum):
    """The lifecycle events an FSM may override (its ``type`` options)."""

    START = "start"
    STOP = "stop"
    CONFIGURE = "configure"
    SCALE = "scale"
    STATE = "state"


class Workflow(str, enum.Enum):
    """A workflow a monitoring SSM may ask the orchestrator to run."""

    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"
    MIGRATE = "migrate"
    RECONFIGURE = "reconfigure"
    TERMINATE = "terminate"


# SONATA's monitor SSMs named workflows differently (SONATA.md §2.4: monitor.ssm.<serv_id>).
_SONATA_WORKFLOWS = {"termination": "terminate", "scale_ns": "scale_out", "scale-out": "scale_out",
                     "scale-in": "scale_in"}


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SmContext(BaseModel):
    """Who an SM instance is: given to the SM's constructor by both runners."""

    model_config = ConfigDict(frozen=True, extra="allow")

    sm_id: str
    sm_type: ManagerType
    service_id: str
    vnf_id: str | None = None        # FSMs: the NSD vnf_id whose VNF instances this FSM manages
    kinds: tuple[str, ...] = ()      # the ``type`` options it is registered under
    options: dict[str, str] = Field(default_factory=dict)  # the other descriptor options
    version: str = "1"
    image: str = ""


# --- task ---------------------------------------------------------------------------------
class TaskRequest(_Request):
    """Reorder (or shorten) a workflow's step list.

    ``schedule`` is the step list the orchestrator is about to run; ``required`` the steps the
    answer must keep. The answer may drop the other steps and reorder any of them.
    """

    operation: str = "instantiate"
    schedule: list[str] = Field(min_length=1)
    required: list[str] = Field(default_factory=list)


class TaskResponse(_Answer):
    """The schedule to run instead. A hook may also return a bare list of step names."""

    schedule: list[str] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"schedule": value} if isinstance(value, (list, tuple)) else value


# --- placement ----------------------------------------------------------------------------
class Pop(_Request):
    """A point of presence the orchestrator can place on (memory in GB)."""

    id: str
    name: str = ""
    city: str = ""
    type: str = "vm"
    core_total: float = 0.0
    core_used: float = 0.0
    memory_total: float = 0.0
    memory_used: float = 0.0

    @property
    def cores_free(self) -> float:
        return self.core_total - self.core_used

    @property
    def memory_free(self) -> float:
        return self.memory_total - self.memory_used


class PlacementFunction(_Request):
    """One VNF instance to place; ``instance_id`` defaults to the ``vnf_id``."""

    vnf_id: str
    instance_id: str = ""
    vnfd: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_instance(self) -> PlacementFunction:
        if not self.instance_id:
            object.__setattr__(self, "instance_id", self.vnf_id)
        return self


class PlacementRequest(_Request):
    """Place ``functions`` on ``pops``; ``pinned`` (instance id -> PoP id) must be honoured and
    PoPs named (by id, name or city) in ``blacklist`` avoided."""

    nsd: dict[str, Any] = Field(default_factory=dict)
    functions: list[PlacementFunction] = Field(min_length=1)
    pops: list[Pop] = Field(min_length=1)
    pinned: dict[str, str] = Field(default_factory=dict)
    blacklist: list[str] = Field(default_factory=list)
    policy: str = "load balanced"

    def pop(self, pop_id: str) -> Pop | None:
        """The PoP with that id, or None."""
        return next((p for p in self.pops if p.id == pop_id), None)

    def allowed_pops(self) -> list[Pop]:
        """The PoPs not blacklisted."""
        banned = set(self.blacklist)
        return [p for p in self.pops if not banned & {p.id, p.name, p.city}]


class PlacementResponse(_Answer):
    """``mapping``: VNF id (all its instances) or instance id -> PoP id.

    A hook may return the bare mapping; SONATA's ``{vnf_id: {vim: pop}}`` values are accepted.
    """

    mapping: dict[str, str]

    @model_validator(mode="before")
    @classmethod
    def _bare_mapping(cls, value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value.get("mapping"), dict):
            value = {"mapping": value}
        if isinstance(value, dict) and isinstance(value.get("mapping"), dict):
            value = {**value, "mapping": {k: _vim_of(v) for k, v in value["mapping"].items()}}
        return value


def _vim_of(value: Any) -> Any:
    if isinstance(value, dict):
        for key in ("vim", "vim_uuid", "vim_id", "pop"):
            if key in value:
                return value[key]
    return value


# --- configure ----------------------------------------------------------------------------
class ConfigureFunction(_Request):
    """One VNF instance to configure, with what the orchestrator knows of it."""

    vnf_id: str
    instance_id: str = ""
    vnfd: dict[str, Any] = Field(default_factory=dict)
    vnfr: dict[str, Any] = Field(default_factory=dict)
    pop: str | None = None


class ConfigureRequest(_Request):
    """Compute per-VNF configuration for ``workflow`` (instantiate, scale_out, reconfigure, ...)."""

    workflow: str = "instantiate"
    service: dict[str, Any] = Field(default_factory=dict)
    functions: list[ConfigureFunction] = Field(default_factory=list)
    networks: dict[str, Any] = Field(default_factory=dict)
    ingress: list[Any] = Field(default_factory=list)
    egress: list[Any] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class ConfigureResponse(RootModel[dict[str, dict[str, Any]]]):
    """``{vnf_id or instance id: {key: value}}``; SONATA's ``{vnf: [{id, ...}]}`` is accepted."""

    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _sonata_shape(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("vnf"), list):
            return {str(item.get("id")): {k: v for k, v in item.items() if k != "id"}
                    for item in value["vnf"] if isinstance(item, dict)}
        return value


# --- monitor ------------------------------------------------------------------------------
class Alert(_Request):
    """One monitoring alert: a metric of a VNF (or the service) crossed something."""

    name: str
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    vnf_id: str | None = None
    instance_id: str | None = None
    labels: dict[str, Any] = Field(default_factory=dict)


class MonitorAlert(_Request):
    """What a monitoring SSM's ``monitor`` hook receives: the alert and the service's shape."""

    alert: Alert
    service: dict[str, Any] = Field(default_factory=dict)
    functions: list[dict[str, Any]] = Field(default_factory=list)


class WorkflowRequest(_Answer):
    """A monitoring SSM's answer: run ``workflow`` with ``params`` (``None`` means: nothing)."""

    workflow: Workflow
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("workflow", mode="before")
    @classmethod
    def _sonata_names(cls, value: Any) -> Any:
        return _SONATA_WORKFLOWS.get(value, value) if isinstance(value, str) else value


# --- state --------------------------------------------------------------------------------
_COMPLETED = Literal["COMPLETED"]


def _upper_status(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class StateRequest(_Request):
    """Extract the state of a VNF (before a migration) or inject it (after)."""

    action: Literal["extract", "inject"] = "extract"
    vnf_id: str | None = None
    instance_id: str | None = None
    state: Any = None


class StateResponse(_Answer):
    """``status`` COMPLETED (any case) and the extracted ``content``."""

    status: _COMPLETED
    content: Any = None

    @field_validator("status", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return _upper_status(value)

    @classmethod
    def done(cls, content: Any = None) -> StateResponse:
        """A COMPLETED answer."""
        return cls(status="COMPLETED", content=content)


# --- FSM ----------------------------------------------------------------------------------
class FsmRequest(_Request):
    """What every FSM hook receives: the VNF instance, its descriptor, record and the data the
    orchestrator would send to the VNF by default (SONATA ``mano.function.<kind>`` ``data``)."""

    vnf_id: str
    instance_id: str | None = None
    vnfd: dict[str, Any] = Field(default_factory=dict)
    vnfr: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)


class CduEnvs(_Answer):
    """Environment variables to set on one deployment unit of the VNF."""

    cdu_id: str
    envs: dict[str, str | int | float | bool]


class FsmResponse(_Answer):
    """An FSM's answer (SONATA: ``{status: COMPLETED, error, envs?, persist?}``).

    ``status`` is required on the wire (a reply without it is not an answer); a hook builds one
    with :meth:`done` or returns ``None``, which the SDK sends as ``{status: COMPLETED}``.
    """

    status: _COMPLETED
    envs: list[CduEnvs] = Field(default_factory=list)
    persist: Any = None
    content: Any = None

    @field_validator("status", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return _upper_status(value)

    @classmethod
    def done(cls, envs: list[CduEnvs] | list[dict[str, Any]] | None = None, *, persist: Any = None,
             content: Any = None) -> FsmResponse:
        """A COMPLETED answer."""
        return cls.model_validate({"status": "COMPLETED", "envs": envs or [], "persist": persist,
                                   "content": content})
