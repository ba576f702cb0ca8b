"""Running an SM: loading its class, and turning one request body into one reply body.

Both runners use :class:`SmRuntime`, so an SM behaves the same in-Ray and in a container:

* the in-Ray host actor (``actors/smr.py``) calls :meth:`SmRuntime.handle` with the request
  body and returns the reply body through Ray;
* the container entry point (:mod:`ssm.container`) gets the same body from AMQP
  (``generic.ssm.<service_id>`` / ``generic.fsm.<function_id>``) and publishes the reply.

Request body (SONATA.md §2.4)::

    {ssm_type | fsm_type: <kind>, sm_id: <registry sm id>, sm_version: <generation>,
     content: <payload>, ...payload}

SONATA's SSMs read some payloads at the top level (``schedule``) and others under
``content``; the registry sends both. Reply body::

    {status: COMPLETED | ERROR, sm_id, error: None | "raised KeyError: 'x'", result: <answer>}

plus, when the answer is a mapping, its keys at the top level as SONATA's SMs answered
(``schedule``, ``mapping``, ``envs``, ...). The registry validates ``result``; this module
only converts the hook's return value to plain data. A ``ping`` request answers the SM's
identity (used by the registry to know the SM is up).
"""
from __future__ import annotations

import importlib
import logging
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from ssm.base import FunctionSpecificManager, ServiceSpecificManager, SpecificManager
from ssm.models import (
    ConfigureRequest,
    FsmKind,
    FsmRequest,
    ManagerType,
    MonitorAlert,
    PlacementRequest,
    SmContext,
    SsmKind,
    StateRequest,
    TaskRequest,
)

__all__ = ["PING", "PYTHON_SCHEME", "REQUEST_MODELS", "SmLoadError", "SmRuntime", "describe_exception",
           "load_class", "to_wire"]

LOG = logging.getLogger("ssm.runtime")

PYTHON_SCHEME = "python://"
PING = "ping"

REQUEST_MODELS: Mapping[ManagerType, Mapping[str, type[BaseModel]]] = {
    ManagerType.SSM: {SsmKind.TASK.value: TaskRequest, SsmKind.PLACEMENT.value: PlacementRequest,
                      SsmKind.CONFIGURE.value: ConfigureRequest, SsmKind.MONITOR.value: MonitorAlert,
                      SsmKind.STATE.value: StateRequest},
    ManagerType.FSM: {kind.value: FsmRequest for kind in FsmKind},
}
"""The request model of each hook, by manager type and kind (the hook has the kind's name)."""

_BASES: Mapping[ManagerType, type[SpecificManager]] = {
    ManagerType.SSM: ServiceSpecificManager, ManagerType.FSM: FunctionSpecificManager}


class SmLoadError(Exception):
    """The SM class cannot be imported or built."""


def load_class(path: str, *, extra_sys_path: Sequence[str] = ()) -> type[SpecificManager]:
    """Import ``pkg.module:Class`` (a ``python://`` prefix is allowed).

    ``extra_sys_path`` entries are appended to ``sys.path`` first (a Ray worker started
    elsewhere than the repository root cannot import ``examples`` otherwise).
    """
    spec = path[len(PYTHON_SCHEME):] if path.startswith(PYTHON_SCHEME) else path
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise SmLoadError(f"{path!r} is not 'package.module:Class'")
    for entry in extra_sys_path:
        if entry and entry not in sys.path:
            sys.path.append(entry)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import error is the SM's
        raise SmLoadError(f"cannot import {module_name}: {describe_exception(exc)}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, SpecificManager):
        raise SmLoadError(f"{spec} is not a ServiceSpecificManager or FunctionSpecificManager subclass")
    return cls


def describe_exception(exc: BaseException) -> str:
    """``KeyError: 'x'`` (one line, at most 500 characters)."""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 500 else text[:497] + "..."


def to_wire(value: Any, sm_type: ManagerType) -> Any:
    """The hook's return value as plain data (models dumped; ``None`` from an FSM = COMPLETED)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    elif value is None and sm_type is ManagerType.FSM:
        value = {"status": "COMPLETED"}
    return to_jsonable_python(value)


class SmRuntime:
    """One SM instance and the serialisation of its hooks (the contract both runners share)."""

    def __init__(self, cls: type[SpecificManager], context: SmContext, *,
                 clock: Callable[[], float] = time.monotonic):
        expected = _BASES[context.sm_type]
        if not issubclass(cls, expected):
            raise SmLoadError(f"{cls.__name__} is not a {expected.__name__} but the descriptor "
                              f"declares it as an {context.sm_type.value.upper()}")
        self.context = context
        self._lock = threading.Lock()
        self._clock = clock
        try:
            self.sm = cls(context)
            self.sm.on_start()
        except Exception as exc:  # noqa: BLE001
            raise SmLoadError(f"{cls.__name__} failed to start: {describe_exception(exc)}") from exc
        self.calls = 0

    @classmethod
    def load(cls, path: str, context: SmContext, *, extra_sys_path: Sequence[str] = ()) -> SmRuntime:
        """Import the class at ``path`` and build it (raises :class:`SmLoadError`)."""
        return cls(load_class(path, extra_sys_path=extra_sys_path), context)

    def identity(self) -> dict[str, Any]:
        """What a ``ping`` answers."""
        return {"sm_id": self.context.sm_id, "version": self.context.version,
                "class": f"{type(self.sm).__module__}:{type(self.sm).__qualname__}",
                "kinds": list(self.context.kinds), "calls": self.calls}

    def handle(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run the hook a request body names; return the reply body (never raises)."""
        kind = body.get("ssm_type") or body.get("fsm_type")
        reply: dict[str, Any] = {"sm_id": self.context.sm_id, "ssm_type" if self.context.sm_type is
                                 ManagerType.SSM else "fsm_type": kind}
        if kind == PING:
            return {**reply, "status": "COMPLETED", "error": None, "result": self.identity()}
        model = REQUEST_MODELS[self.context.sm_type].get(str(kind))
        if model is None:
            return {**reply, "status": "ERROR", "error": f"bad request: unknown kind {kind!r}"}
        content = body.get("content")
        try:
            request = model.model_validate(content if isinstance(content, Mapping) else {})
        except ValidationError as exc:
            return {**reply, "status": "ERROR", "error": f"bad request: {_first_error(exc)}"}
        with self._lock:  # hooks of one SM never run concurrently
            self.calls += 1
            started = self._clock()
            try:
                value = getattr(self.sm, str(kind))(request)
            except Exception as exc:  # noqa: BLE001 - reported to the orchestrator
                LOG.info("%s.%s raised %s", self.context.sm_id, kind, describe_exception(exc))
                return {**reply, "status": "ERROR", "error": f"raised {describe_exception(exc)}"}
            LOG.debug("%s.%s answered in %.3f s", self.context.sm_id, kind, self._clock() - started)
        try:
            result = _sonata_shape(str(kind), to_wire(value, self.context.sm_type), self.context.sm_type)
        except Exception as exc:  # noqa: BLE001 - e.g. a set or an object
            return {**reply, "status": "ERROR",
                    "error": f"invalid answer: not plain data ({describe_exception(exc)})"}
        # SONATA's SMs answered with the fields at the top level; keep them there too.
        top = {k: v for k, v in result.items() if k not in _ENVELOPE} if isinstance(result, dict) else {}
        status = top.pop("status", "COMPLETED")
        return {**top, **reply, "status": status, "error": None, "result": result}

    def stop(self) -> None:
        """Call ``on_stop`` (errors are logged, never raised)."""
        try:
            self.sm.on_stop()
        except Exception:  # noqa: BLE001
            LOG.warning("%s: on_stop failed", self.context.sm_id, exc_info=True)


def _sonata_shape(kind: str, value: Any, sm_type: ManagerType) -> Any:
    """Bare answers in the shape SONATA's SMs replied: ``{schedule}`` for task, ``{mapping}`` for
    placement (the registry accepts both; a container's SONATA peer only the wrapped one)."""
    if sm_type is ManagerType.SSM and kind == SsmKind.TASK.value and isinstance(value, list):
        return {"schedule": value}
    if (sm_type is ManagerType.SSM and kind == SsmKind.PLACEMENT.value and isinstance(value, dict)
            and not isinstance(value.get("mapping"), dict)):
        return {"mapping": value}
    return value


_ENVELOPE = frozenset({"sm_id", "sm_version", "ssm_type", "fsm_type", "error", "result"})


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())) or "payload"
    return f"{where}: {error.get('msg')}"
