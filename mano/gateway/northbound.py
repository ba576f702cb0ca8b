"""Gatekeeper requests in, SONATA replies out (SONATA.md §2.2), exactly as SONATA words them.

Each topic has a parser that turns a decoded body into a typed :class:`NorthboundRequest`
or raises :class:`GatewayRequestError` carrying SONATA's error text, and the reply builders
turn operation records into the intermediate (INSTANTIATING, TERMINATING, SCALING, …) and
final (READY / ERROR) bodies a gatekeeper waits for.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

from mano.errors import ManoError
from mano.lifecycle.states import OperationState, OperationType

CREATE = "service.instances.create"
TERMINATE = "service.instance.terminate"
SCALE = "service.instance.scale"
MIGRATE = "service.instance.migrate"
RECONFIGURE = "service.instance.reconfigure"
NORTHBOUND_TOPICS = (CREATE, TERMINATE, SCALE, MIGRATE, RECONFIGURE)

NO_CORRELATION_ID = "Please provide a correlation id."

INTERMEDIATE_STATUS = {
    OperationType.INSTANTIATE: "INSTANTIATING", OperationType.TERMINATE: "TERMINATING",
    OperationType.SCALE_OUT: "SCALING", OperationType.SCALE_IN: "SCALING",
    OperationType.MIGRATE: "MIGRATING", OperationType.RECONFIGURE: "RECONFIGURING",
}
WORKFLOW_NAME = {
    OperationType.TERMINATE: "termination", OperationType.SCALE_OUT: "addvnf", OperationType.SCALE_IN: "removevnf",
    OperationType.MIGRATE: "migratevnf", OperationType.RECONFIGURE: "reconfigure",
}
ADD = {"addvnf", "ADD_VNF"}
REMOVE = {"removevnf", "REMOVE_VNF"}


class GatewayRequestError(ManoError):
    """A gatekeeper request that cannot be served; the message is the ERROR reply's text."""

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.extra = extra


@dataclasses.dataclass(frozen=True)
class NorthboundRequest:
    """What the gateway asks of the SLM for one gatekeeper message."""

    op_type: OperationType
    service_id: str | None = None
    nsd: Mapping[str, Any] | None = None
    vnfds: tuple[Mapping[str, Any], ...] = ()
    user_data: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    extra_reply: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # e.g. scaling_type


def parse(topic: str, body: Any, service_vnfds: Any = None) -> NorthboundRequest:
    """Parse the body of a northbound request; ``service_vnfds(service_id)`` looks up VNFDs."""
    if not isinstance(body, Mapping):
        raise GatewayRequestError("payload is not a dict.")
    if topic == CREATE:
        return parse_create(body)
    if topic == TERMINATE:
        return NorthboundRequest(OperationType.TERMINATE, service_id=_service_id(body))
    if topic == SCALE:
        return parse_scale(body, service_vnfds)
    if topic == MIGRATE:
        return NorthboundRequest(OperationType.MIGRATE, service_id=_service_id(body),
                                 params={"vnf_instance_id": _text(body, "vnf_uuid"), "pop": _text(body, "vim_uuid")})
    if topic == RECONFIGURE:
        payload = body.get("reconfiguration_payload") or {}
        if not isinstance(payload, Mapping):
            raise GatewayRequestError("reconfiguration_payload is not a dict.")
        return NorthboundRequest(OperationType.RECONFIGURE, service_id=_service_id(body),
                                 params={"payload": dict(payload)})
    raise GatewayRequestError(f"unknown topic {topic}")


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise GatewayRequestError(f"No {key} in message" if value is None else f"{key} is not a string.")
    return value


def _service_id(body: Mapping[str, Any]) -> str:
    return _text(body, "service_instance_uuid")


def parse_create(body: Mapping[str, Any]) -> NorthboundRequest:
    nsd = body.get("NSD")
    if nsd is None:
        raise GatewayRequestError("No NSD key in message")
    if not isinstance(nsd, Mapping):
        raise GatewayRequestError("NSD is not a dict.")
    if "VNFD0" not in body:
        raise GatewayRequestError("No VNFD key in message")
    vnfd_keys = sorted((k for k in body if k.startswith("VNFD") and k[4:].isdigit()), key=lambda k: int(k[4:]))
    vnfds = [body[k] for k in vnfd_keys]
    if any(not isinstance(v, Mapping) or not v for v in vnfds):
        raise GatewayRequestError("empty VNFD.")
    if "user_data" not in body:
        raise GatewayRequestError("No user_data in message")
    user_data = body.get("user_data") or {}
    if not isinstance(user_data, Mapping):
        raise GatewayRequestError("user_data is not a dict.")
    params: dict[str, Any] = {}
    pinned = _pinned(body.get("mapping"))
    if pinned:
        params["pinned"] = pinned
    blacklist = (((user_data.get("customer") or {}).get("policies") or {}).get("blacklist")) or []
    if blacklist:
        params["blacklist"] = [str(b) for b in blacklist] if isinstance(blacklist, list) else [str(blacklist)]
    for key in ("flavor", "flavour", "ingresses", "egresses", "params"):
        if body.get(key) is not None:
            params[key] = body[key]
    return NorthboundRequest(OperationType.INSTANTIATE, nsd=dict(nsd), vnfds=tuple(dict(v) for v in vnfds),
                             user_data=dict(user_data), params=params)


def _pinned(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, Mapping):
        return {}
    pins = {}
    for entry in mapping.get("network_functions") or []:
        if isinstance(entry, Mapping) and entry.get("vnf_id") and entry.get("vim_id"):
            pins[str(entry["vnf_id"])] = str(entry["vim_id"])
    return pins


def parse_scale(body: Mapping[str, Any], service_vnfds: Any) -> NorthboundRequest:
    service_id = _service_id(body)
    scaling_type = body.get("scaling_type")
    if not isinstance(scaling_type, str):
        raise GatewayRequestError(f"scaling_type must be addvnf or removevnf, got {scaling_type!r:.80}")
    extra = {"scaling_type": scaling_type}
    if scaling_type in ADD:
        vnfd_uuid = body.get("vnfd_uuid")
        vnf_id = _vnf_id_for(vnfd_uuid, service_vnfds(service_id) if service_vnfds else {})
        if vnf_id is None:
            raise GatewayRequestError(f"No VNFD with uuid {vnfd_uuid} in service {service_id}", **extra)
        count = body.get("number_of_instances", 1)
        params: dict[str, Any] = {"vnf_id": vnf_id, "count": count}
        vim = (body.get("constraints") or {}).get("vim_uuid") if isinstance(body.get("constraints"), Mapping) else None
        if vim:
            params["pop"] = str(vim)
        return NorthboundRequest(OperationType.SCALE_OUT, service_id=service_id, params=params, extra_reply=extra)
    if scaling_type in REMOVE:
        if body.get("vnf_uuid"):
            params = {"vnf_instance_id": str(body["vnf_uuid"])}
        else:
            vnf_id = _vnf_id_for(body.get("vnfd_uuid"), service_vnfds(service_id) if service_vnfds else {})
            if vnf_id is None:
                raise GatewayRequestError(f"No VNFD with uuid {body.get('vnfd_uuid')} in service {service_id}",
                                          **extra)
            params = {"vnf_id": vnf_id, "count": body.get("number_of_instances", 1)}
        return NorthboundRequest(OperationType.SCALE_IN, service_id=service_id, params=params, extra_reply=extra)
    raise GatewayRequestError(f"Unknown scaling_type {scaling_type!r}; expected addvnf or removevnf", **extra)


def _vnf_id_for(vnfd_uuid: Any, vnfds_by_vnf_id: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The NSD vnf_id whose VNFD has that uuid (or that vnf_id / VNFD name, for convenience)."""
    for vnf_id, vnfd in vnfds_by_vnf_id.items():
        if vnfd_uuid in (vnfd.get("uuid"), vnf_id, vnfd.get("name")):
            return vnf_id
    return None


# --- replies ---------------------------------------------------------------------------------
def intermediate(op_type: OperationType, service_id: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"status": INTERMEDIATE_STATUS[op_type], "serv_id": service_id, "error": None, "timestamp": time.time(),
            **(extra or {})}


def error(message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"status": "ERROR", "error": message, "timestamp": time.time(), **(extra or {})}


def final(op_type: OperationType, state: OperationState, error_text: str | None, *, nsr: Any, vnfrs: Any,
          user_data: Mapping[str, Any] | None = None, duration: float | None = None,
          extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """READY with the records, or ERROR with the reason (SONATA's final states)."""
    if state != OperationState.COMPLETED:
        return error(error_text or f"operation ended {state.value}", extra)
    body: dict[str, Any] = {"status": "READY", "error": None, "timestamp": time.time(), "nsr": nsr, "vnfrs": vnfrs,
                            **(extra or {})}
    if op_type == OperationType.INSTANTIATE:
        customer = (user_data or {}).get("customer") or {}
        body.update(sla_id=customer.get("sla_id"), policy_id=customer.get("policy_id"))
    else:
        body["workflow"] = WORKFLOW_NAME[op_type]
    if duration is not None:
        body["duration"] = duration
    return body
