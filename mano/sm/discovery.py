"""Which specific managers a service declares, exactly as SONATA discovers them (SONATA.md §3).

* SSMs come from the NSD's ``service_specific_managers``, FSMs from each VNFD's
  ``function_specific_managers``; each entry is ``{id, description, image, options[{key, value}]}``.
* A list is handled only when at least one of its SMs is typed (has an option ``key: type``);
  then **every** SM of that list is on-boarded and instantiated, typed or not. As SONATA's SLM
  and FLM do, the NSD's list and each VNFD's list are judged separately.
* An SM is registered under each of its ``type`` values. Kinds mano does not call (SONATA's
  SSM ``scale``, FSM ``task``) are recorded but never used; unknown kinds produce a warning.

Registry ids: an SSM keeps its descriptor id; an FSM is ``<vnf_id>/<descriptor id>``, because
two VNFs of one NSD may use the same VNFD (and so the same FSM ids), and every SM of a service
is one record owned by the service. Topics: ``generic.ssm.<service_id>`` for SSMs (shared by
the service's SSMs, which filter on ``sm_id`` and kind) and ``generic.fsm.<function_id>`` for
FSMs, where the function id is a uuid derived from (service id, vnf_id).
"""
from __future__ import annotations

import dataclasses
import enum
import uuid
from collections.abc import Mapping
from typing import Any

import pydantic

from mano.descriptors.models import SpecificManager
from mano.errors import DescriptorError
from mano.records import SmType
from ssm.models import FsmKind, SsmKind
from ssm.runtime import PYTHON_SCHEME

__all__ = ["Discovery", "RunnerKind", "SmSpec", "discover", "function_id", "runner_kind", "ssm_topic",
           "fsm_topic"]

TYPE_KEY = "type"
_SONATA_ONLY_KINDS = {SmType.SSM: {"scale"}, SmType.FSM: {"task"}}
_KINDS = {SmType.SSM: {k.value for k in SsmKind}, SmType.FSM: {k.value for k in FsmKind}}
_FUNCTION_NAMESPACE = uuid.UUID("6f1c2d3e-6d61-6e6f-2d73-6d2d66756e63")


class RunnerKind(str, enum.Enum):
    """How an SM image runs: a Python class in its own Ray actor, or a Docker container."""

    PYTHON = "python"
    CONTAINER = "container"


def runner_kind(image: str) -> RunnerKind:
    """``python://pkg.module:Class`` runs in-Ray; anything else is a Docker image."""
    return RunnerKind.PYTHON if image.startswith(PYTHON_SCHEME) else RunnerKind.CONTAINER


def function_id(service_id: str, vnf_id: str) -> str:
    """The stable uuid of one NSD function of one service (SONATA's FSM ``sf_uuid``)."""
    return str(uuid.uuid5(_FUNCTION_NAMESPACE, f"{service_id}/{vnf_id}"))


def ssm_topic(service_id: str) -> str:
    return f"generic.ssm.{service_id}"


def fsm_topic(service_id: str, vnf_id: str) -> str:
    return f"generic.fsm.{function_id(service_id, vnf_id)}"


@dataclasses.dataclass(frozen=True)
class SmSpec:
    """One SM to on-board for one service: what the registry record and the runner need."""

    sm_type: SmType
    sm_id: str
    descriptor_id: str
    image: str
    kinds: tuple[str, ...]
    topic: str
    vnf_id: str | None = None
    description: str | None = None
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)  # the non-type options

    @property
    def runner(self) -> RunnerKind:
        return runner_kind(self.image)

    def record_options(self) -> dict[str, Any]:
        """What the registry keeps in ``SpecificManagerRecord.options``."""
        return {"types": list(self.kinds), "descriptor_id": self.descriptor_id, "vnf_id": self.vnf_id,
                "topic": self.topic, "description": self.description,
                "descriptor_options": dict(self.options)}


@dataclasses.dataclass(frozen=True)
class Discovery:
    specs: tuple[SmSpec, ...]
    warnings: tuple[str, ...] = ()

    def of_type(self, sm_type: SmType) -> list[SmSpec]:
        return [s for s in self.specs if s.sm_type is sm_type]


def discover(service_id: str, nsd: Mapping[str, Any], vnfds: Mapping[str, Mapping[str, Any]]) -> Discovery:
    """The SMs of a service: SSMs of ``nsd``, FSMs of ``vnfds`` (keyed by NSD vnf_id).

    Raises:
        DescriptorError: an SM entry is malformed (names the field path).
    """
    specs: list[SmSpec] = []
    warnings: list[str] = []
    ssms = _parse(nsd.get("service_specific_managers"), "service_specific_managers")
    specs += _handled(ssms, SmType.SSM, service_id, None, "NSD", warnings)
    for vnf_id in sorted(vnfds):
        fsms = _parse(vnfds[vnf_id].get("function_specific_managers"), f"{vnf_id}.function_specific_managers")
        specs += _handled(fsms, SmType.FSM, service_id, vnf_id, f"VNFD of {vnf_id}", warnings)
    return Discovery(tuple(specs), tuple(warnings))


def _parse(entries: Any, path: str) -> list[SpecificManager]:
    if not entries:
        return []
    if not isinstance(entries, (list, tuple)):
        raise DescriptorError("expected a list of specific managers", path=path)
    parsed = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(SpecificManager.model_validate(entry))
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            field = f".{where}" if where else ""
            raise DescriptorError(error["msg"], path=f"{path}[{index}]{field}") from None
    return parsed


def _handled(managers: list[SpecificManager], sm_type: SmType, service_id: str, vnf_id: str | None,
             where: str, warnings: list[str]) -> list[SmSpec]:
    if not any(m.types for m in managers):
        return []  # SONATA: SMs are handled only when at least one is typed
    specs: list[SmSpec] = []
    seen: set[str] = set()
    claimed: dict[str, str] = {}
    for manager in managers:
        if manager.id in seen:
            warnings.append(f"{where}: SM {manager.id!r} is listed twice; the first entry is used")
            continue
        seen.add(manager.id)
        kinds = tuple(dict.fromkeys(manager.types))
        for kind in kinds:
            if kind not in _KINDS[sm_type] and kind not in _SONATA_ONLY_KINDS[sm_type]:
                warnings.append(f"{where}: SM {manager.id!r} has type {kind!r}, which is not an "
                                f"{sm_type.value.upper()} kind ({', '.join(sorted(_KINDS[sm_type]))})")
            elif kind in claimed:
                warnings.append(f"{where}: SMs {claimed[kind]!r} and {manager.id!r} are both of type "
                                f"{kind!r}; {claimed[kind]!r} is used")
            else:
                claimed[kind] = manager.id
        options = {o.key: o.value for o in manager.options if o.key != TYPE_KEY}
        if sm_type is SmType.SSM:
            sm_id, topic = manager.id, ssm_topic(service_id)
        else:
            assert vnf_id is not None
            sm_id, topic = f"{vnf_id}/{manager.id}", fsm_topic(service_id, vnf_id)
        specs.append(SmSpec(sm_type=sm_type, sm_id=sm_id, descriptor_id=manager.id, image=manager.image,
                            kinds=kinds, topic=topic, vnf_id=vnf_id, description=manager.description,
                            options=options))
    return specs
