"""Building the specific-manager port's payloads from the lifecycle's own objects (for the
workflow steps and the monitoring SSM).

Each function returns the plain dict :meth:`~mano.lifecycle.sm_port.SpecificManagers.ssm` /
:meth:`~mano.lifecycle.sm_port.SpecificManagers.fsm` expect for one kind; the models that check them are
in :mod:`ssm.models`. These helpers live with the lifecycle, their caller, so that :mod:`mano.sm`
does not depend on the lifecycle's types.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mano.lifecycle.ports import PlacementRequest
from mano.lifecycle.vim_port import Pop

__all__ = ["configure_payload", "fsm_payload", "monitor_payload", "placement_payload", "pop_payload",
           "task_payload"]


def task_payload(schedule: Sequence[str], required: Iterable[str] = (), *,
                 operation: str = "instantiate") -> dict:
    """``task``: the step list about to run and the steps an answer must keep."""
    return {"operation": operation, "schedule": list(schedule), "required": list(required)}


def pop_payload(pop: Pop) -> dict[str, Any]:
    """One PoP as :class:`ssm.models.Pop` (memory in GB)."""
    return {"id": pop.vim_uuid, "name": pop.name, "city": pop.city, "type": pop.type,
            "core_total": pop.core_total, "core_used": pop.core_used,
            "memory_total": pop.memory_total, "memory_used": pop.memory_used}


def placement_payload(request: PlacementRequest) -> dict:
    """``placement``: the units of a :class:`~mano.lifecycle.ports.PlacementRequest`.

    The validated answer is ``{instance_id: pop}`` for every unit: what ``Placement.place``
    returns.
    """
    return {"nsd": dict(request.nsd), "policy": request.policy,
            "functions": [{"instance_id": u.instance_id, "vnf_id": u.vnf_id, "vnfd": u.vnfd.to_dict()}
                          for u in request.units],
            "pops": [pop_payload(p) for p in request.pops],
            "pinned": dict(request.pinned), "blacklist": list(request.blacklist)}


def configure_payload(workflow: str, functions: Iterable[Mapping[str, Any]], *,
                      service: Mapping[str, Any] | None = None, networks: Mapping[str, Any] | None = None,
                      params: Mapping[str, Any] | None = None) -> dict:
    """``configure`` (SSM): ``functions`` are ``{vnf_id, instance_id, vnfd?, vnfr?, pop?}``."""
    return {"workflow": workflow, "functions": [dict(f) for f in functions], "service": dict(service or {}),
            "networks": dict(networks or {}), "params": dict(params or {})}


def sdk_alert(alert: Mapping[str, Any]) -> dict:
    """A SONATA alert (``serviceID``, ``alertname``, ...) in the SSM SDK's Alert shape."""
    value = alert.get("value")
    known = {"serviceID", "alertname", "name", "metric", "value", "vnf_id", "functionID", "instance_id"}
    return {"name": str(alert.get("alertname") or alert.get("name") or "alert"),
            "metric": alert.get("metric"), "value": value if isinstance(value, (int, float)) else None,
            "vnf_id": alert.get("vnf_id"), "instance_id": alert.get("functionID") or alert.get("instance_id"),
            "labels": {k: v for k, v in alert.items() if k not in known}}


def monitor_payload(alert: Mapping[str, Any], *, service: Mapping[str, Any] | None = None,
                    functions: Iterable[Mapping[str, Any]] = ()) -> dict:
    """``monitor``: one alert ``{name, metric?, value?, threshold?, vnf_id?, instance_id?}``."""
    return {"alert": dict(alert), "service": dict(service or {}), "functions": [dict(f) for f in functions]}


def fsm_payload(vnf_id: str, instance_id: str | None, *, vnfd: Mapping[str, Any] | None = None,
                vnfr: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None) -> dict:
    """Any FSM kind: the VNF instance and the data the FLM would send it by default."""
    return {"vnf_id": vnf_id, "instance_id": instance_id, "vnfd": dict(vnfd or {}), "vnfr": dict(vnfr or {}),
            "data": dict(data or {})}
