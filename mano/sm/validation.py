"""Checking what the workflows send to an SM and what the SM answers.

An SM is code mano does not control: it may answer late, raise, or answer something that
looks right and is not (a PoP that does not exist, a schedule without a required step). So
every answer is first validated against the kind's answer model (:mod:`ssm.models`, the
same models the SDK uses) and then checked against the request it answers. A failed check is
an :class:`InvalidAnswer`; the port turns it into ``SmOutcome(used=False, reason="invalid
answer: ...")`` and the workflow runs its default.

Checks live in a table keyed by (manager type, kind), one small function each.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pydantic
from pydantic import BaseModel

from mano.records import SmType
from mano.lifecycle.sm_port import FSM_KINDS, SSM_KINDS, SmRequestError
from ssm.models import (
    ConfigureRequest,
    ConfigureResponse,
    FsmRequest,
    FsmResponse,
    ManagerType,
    PlacementRequest,
    PlacementResponse,
    StateResponse,
    TaskRequest,
    TaskResponse,
    WorkflowRequest,
)
from ssm.runtime import REQUEST_MODELS

__all__ = ["InvalidAnswer", "check_kind", "parse_request", "validate_answer"]

_MAX_REASON = 300


class InvalidAnswer(Exception):
    """The SM's answer cannot be used; the text says why."""


def check_kind(sm_type: SmType, kind: str) -> None:
    """Raise :class:`SmRequestError` unless ``kind`` is one the port calls for ``sm_type``."""
    kinds = SSM_KINDS if sm_type is SmType.SSM else FSM_KINDS
    if kind not in kinds:
        raise SmRequestError(f"{kind!r} is not an {sm_type.value.upper()} kind; expected one of "
                             f"{', '.join(sorted(kinds))}")


def parse_request(sm_type: SmType, kind: str, payload: Mapping[str, Any]) -> BaseModel:
    """The payload as the kind's request model.

    Raises:
        SmRequestError: unknown kind, or the payload does not fit (a caller bug).
    """
    check_kind(sm_type, kind)
    model = REQUEST_MODELS[ManagerType(sm_type.value)][kind]
    try:
        return model.model_validate(dict(payload))
    except pydantic.ValidationError as exc:
        raise SmRequestError(f"{sm_type.value} {kind} payload: {_describe(exc, 'payload')}") from None


def validate_answer(sm_type: SmType, kind: str, request: BaseModel, answer: Any) -> Any:
    """The answer as validated plain data.

    Raises:
        InvalidAnswer: it does not fit the answer model or contradicts the request.
    """
    check = _CHECKS[(sm_type, kind)]
    try:
        return check(request, answer)
    except pydantic.ValidationError as exc:
        raise InvalidAnswer(_describe(exc)) from None


def _describe(exc: pydantic.ValidationError, root: str = "answer") -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ())) or root
        parts.append(f"{where}: {error['msg']}")
    text = "; ".join(parts)
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 3] + "..."


def _short(items: Any) -> str:
    text = ", ".join(repr(i) for i in items)
    return text if len(text) <= 120 else text[:117] + "..."


# --- SSM kinds -------------------------------------------------------------------------------
def _task(request: TaskRequest, answer: Any) -> dict[str, Any]:
    schedule = TaskResponse.model_validate(answer).schedule
    twice = [step for step, n in Counter(schedule).items() if n > 1]
    if twice:
        raise InvalidAnswer(f"schedule repeats {_short(twice)}")
    unknown = [s for s in schedule if s not in request.schedule]
    if unknown:
        raise InvalidAnswer(f"schedule has unknown steps {_short(unknown)} "
                            f"(allowed: {_short(request.schedule)})")
    dropped = [s for s in request.required if s not in schedule]
    if dropped:
        raise InvalidAnswer(f"schedule drops required steps {_short(dropped)}")
    return {"schedule": list(schedule)}


def _placement(request: PlacementRequest, answer: Any) -> dict[str, str]:
    mapping = PlacementResponse.model_validate(answer).mapping
    instances = {f.instance_id for f in request.functions}
    vnf_ids = {f.vnf_id for f in request.functions}
    strangers = [k for k in mapping if k not in instances and k not in vnf_ids]
    if strangers:
        raise InvalidAnswer(f"mapping names unknown functions {_short(strangers)}")
    allowed = {p.id for p in request.allowed_pops()}
    known = {p.id for p in request.pops}
    placed: dict[str, str] = {}
    for function in request.functions:
        pop = mapping.get(function.instance_id, mapping.get(function.vnf_id))
        label = function.vnf_id if function.instance_id == function.vnf_id else \
            f"{function.vnf_id} ({function.instance_id})"
        if pop is None:
            raise InvalidAnswer(f"{label} is not placed")
        if pop not in known:
            raise InvalidAnswer(f"{label} is placed on unknown PoP {pop!r} (PoPs: {_short(sorted(known))})")
        if pop not in allowed:
            raise InvalidAnswer(f"{label} is placed on blacklisted PoP {pop!r}")
        pin = request.pinned.get(function.instance_id)
        if pin is not None and pin != pop:
            raise InvalidAnswer(f"{label} is pinned to {pin!r} but placed on {pop!r}")
        placed[function.instance_id] = pop
    return placed


def _configure(request: ConfigureRequest, answer: Any) -> dict[str, dict[str, Any]]:
    config = ConfigureResponse.model_validate(answer).root
    if request.functions:
        known = {f.vnf_id for f in request.functions}
        known |= {f.instance_id for f in request.functions if f.instance_id}
        strangers = [k for k in config if k not in known]
        if strangers:
            raise InvalidAnswer(f"configuration for unknown functions {_short(strangers)}")
    return {k: dict(v) for k, v in config.items()}


def _monitor(request: BaseModel, answer: Any) -> dict[str, Any] | None:
    if answer is None:
        return None
    return WorkflowRequest.model_validate(answer).model_dump(mode="json")


def _ssm_state(request: BaseModel, answer: Any) -> dict[str, Any]:
    return StateResponse.model_validate(answer).model_dump(mode="json")


# --- FSM kinds -------------------------------------------------------------------------------
def _fsm(request: FsmRequest, answer: Any) -> dict[str, Any]:
    response = FsmResponse.model_validate(answer)
    units = {u.get("id") for key in ("virtual_deployment_units", "cloudnative_deployment_units")
             for u in request.vnfd.get(key) or () if isinstance(u, Mapping)}
    if units:
        strangers = [e.cdu_id for e in response.envs if e.cdu_id not in units]
        if strangers:
            raise InvalidAnswer(f"envs for unknown deployment units {_short(strangers)} "
                                f"(units: {_short(sorted(str(u) for u in units))})")
    return response.model_dump(mode="json")


_CHECKS: Mapping[tuple[SmType, str], Callable[[Any, Any], Any]] = {
    (SmType.SSM, "task"): _task,
    (SmType.SSM, "placement"): _placement,
    (SmType.SSM, "configure"): _configure,
    (SmType.SSM, "monitor"): _monitor,
    (SmType.SSM, "state"): _ssm_state,
    **{(SmType.FSM, kind): _fsm for kind in FSM_KINDS},
}
