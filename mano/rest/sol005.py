"""mano's records as ETSI GS NFV-SOL 005 resources (NS lifecycle management, v3): pure mapping.

* :func:`ns_instance` — a service as an ``NsInstance``: ``nsState`` INSTANTIATED while it has
  VNFs deployed (READY and while an operation changes it), NOT_INSTANTIATED before its
  instantiation completed, after a failed one and once terminated; its VNFs as ``vnfInstance``
  entries (``instantiatedVnfInfo.vnfState`` STARTED/STOPPED from the VNFR).
* :func:`op_occ` — an operation as an ``NsLcmOpOcc``: mano's operation states are SOL005's
  (PROCESSING, COMPLETED, FAILED_TEMP, FAILED, ROLLING_BACK, ROLLED_BACK); mano's operation
  types map onto SOL005's ``lcmOperationType`` (scale out/in: SCALE; migrate, reconfigure:
  UPDATE, SOL005's operation for changing a running NS); ``isCancelPending`` while an
  operator's cancel waits for the step boundary.
* :func:`problem` — RFC 7807 problem details, SOL005's ``ProblemDetails``.

Links are relative to the API root (``/nslcm/v1``), as SOL013 allows.
"""
from __future__ import annotations

from typing import Any, Mapping

from mano.records import NsdInfoRecord, NsIdentifierRecord, OperationRecord, ServiceRecord, VnfrRecord
from mano.states import OperationState, OperationType, ServiceState, VnfState

ROOT = "/nslcm/v1"
NSD_ROOT = "/nsd/v1"

LCM_OPERATION_TYPE = {
    OperationType.INSTANTIATE: "INSTANTIATE",
    OperationType.TERMINATE: "TERMINATE",
    OperationType.SCALE_OUT: "SCALE",
    OperationType.SCALE_IN: "SCALE",
    OperationType.HEAL: "HEAL",
    OperationType.MIGRATE: "UPDATE",
    OperationType.RECONFIGURE: "UPDATE",
}

NOT_INSTANTIATED = {ServiceState.INSTANTIATING, ServiceState.FAILED, ServiceState.TERMINATED}


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def ns_instance(service: ServiceRecord, vnfrs: Mapping[str, VnfrRecord]) -> dict[str, Any]:
    """An ``NsInstance``; ``vnfrs``: the service's VNFRs by id (those missing are left out)."""
    nsd = service.nsd
    instantiated = service.state not in NOT_INSTANTIATED
    body: dict[str, Any] = {
        "id": service.id,
        "nsInstanceName": service.name,
        "nsInstanceDescription": str(nsd.get("description") or ""),
        "nsdId": nsd_id_of(nsd),
        "nsdInfoId": str(nsd.get("uuid") or nsd.get("name") or ""),
        "nsState": "INSTANTIATED" if instantiated else "NOT_INSTANTIATED",
        "_links": {"self": {"href": f"{ROOT}/ns_instances/{service.id}"}},
        # mano's own view: the lifecycle state SOL005 has no field for
        "manoState": service.state.value,
    }
    if instantiated:
        body["vnfInstance"] = [_vnf_instance(ref, vnfrs.get(ref.id)) for ref in service.vnf_instances
                               if not ref.terminated]
        for task in ("terminate", "scale", "heal", "update"):
            body["_links"][task] = {"href": f"{ROOT}/ns_instances/{service.id}/{task}"}
    if service.current_operation:
        body["_links"]["currentOpOcc"] = {"href": f"{ROOT}/ns_lcm_op_occs/{service.current_operation}"}
    return body


def not_instantiated(identifier: NsIdentifierRecord, nsd_id: str) -> dict[str, Any]:
    """An ``NsInstance`` created (``POST /ns_instances``) and not instantiated yet."""
    return {"id": identifier.id, "nsInstanceName": identifier.name, "nsInstanceDescription": identifier.description,
            "nsdId": nsd_id, "nsdInfoId": identifier.nsd_info_id, "nsState": "NOT_INSTANTIATED",
            "_links": {"self": {"href": f"{ROOT}/ns_instances/{identifier.id}"},
                       "instantiate": {"href": f"{ROOT}/ns_instances/{identifier.id}/instantiate"}}}


def nsd_id_of(nsd: Mapping[str, Any]) -> str:
    """The NSD's identifier: its ``uuid``, else SONATA's (vendor, name, version) triple."""
    return str(nsd.get("uuid") or nsd.get("id") or f"{nsd.get('vendor')}.{nsd.get('name')}.{nsd.get('version')}")


def nsd_info(record: NsdInfoRecord) -> dict[str, Any]:
    """An ``NsdInfo`` (NSD management)."""
    body: dict[str, Any] = {
        "id": record.id, "nsdOnboardingState": record.onboarding_state,
        "nsdOperationalState": "ENABLED" if record.onboarding_state == "ONBOARDED" else "DISABLED",
        "nsdUsageState": "NOT_IN_USE", "userDefinedData": dict(record.user_defined_data),
        "_links": {"self": {"href": f"{NSD_ROOT}/ns_descriptors/{record.id}"},
                   "nsd_content": {"href": f"{NSD_ROOT}/ns_descriptors/{record.id}/nsd_content"}}}
    if record.nsd is not None:
        body.update({"nsdId": nsd_id_of(record.nsd), "nsdName": str(record.nsd.get("name") or ""),
                     "nsdVersion": str(record.nsd.get("version") or ""),
                     "nsdDesigner": str(record.nsd.get("vendor") or ""),
                     "vnfPkgIds": [f"{v.get('vendor')}.{v.get('name')}.{v.get('version')}" for v in record.vnfds]})
    return body


def _vnf_instance(ref: Any, vnfr: VnfrRecord | None) -> dict[str, Any]:
    state = None if vnfr is None else VnfState(vnfr.vnf_state)
    body: dict[str, Any] = {
        "id": ref.id,
        "vnfdId": ref.vnfd_name,
        "vnfProvider": ref.vnfd_vendor,
        "vnfProductName": ref.vnfd_name,
        "vnfdVersion": ref.vnfd_version,
        "vnfSoftwareVersion": ref.vnfd_version,
        "instantiationState": "INSTANTIATED" if state not in (None, VnfState.TERMINATED) else "NOT_INSTANTIATED",
        "metadata": {"nsdVnfId": ref.vnf_id, "vimId": ref.pop},
    }
    if state not in (None, VnfState.TERMINATED):
        body["instantiatedVnfInfo"] = {"flavourId": "default",
                                       "vnfState": "STOPPED" if state == VnfState.STOPPED else "STARTED"}
    return body


def op_occ(op: OperationRecord, *, cancel_pending: bool = False) -> dict[str, Any]:
    """An ``NsLcmOpOcc``; ``cancel_pending``: an operator's cancel waits for a step boundary."""
    entered = op.finished_at or op.updated_at
    body: dict[str, Any] = {
        "id": op.id,
        "operationState": op.state.value,
        "stateEnteredTime": _time(entered),
        "nsInstanceId": op.service_id,
        "lcmOperationType": LCM_OPERATION_TYPE[op.type],
        "startTime": _time(op.created_at),
        "isAutomaticInvocation": bool(op.request.get("automatic", False)) if isinstance(op.request, Mapping) else False,
        "operationParams": _params(op),
        "isCancelPending": cancel_pending and op.state == OperationState.PROCESSING,
        "_links": {"self": {"href": f"{ROOT}/ns_lcm_op_occs/{op.id}"},
                   "nsInstance": {"href": f"{ROOT}/ns_instances/{op.service_id}"}},
        # mano's own view: the operation's steps, as `mano op show` lists them
        "manoOperationType": op.type.value,
        "manoSteps": [{"name": s.name, "state": s.state.value, "attempts": s.attempts, "message": s.message}
                      for s in op.steps],
    }
    if cancel_pending and op.state == OperationState.PROCESSING:
        body["cancelMode"] = "GRACEFUL"
    if op.error and op.state != OperationState.COMPLETED:
        body["error"] = problem(500 if op.state == OperationState.FAILED else 409,
                                "Operation failed" if op.state != OperationState.FAILED_TEMP else "Operation held",
                                op.error, instance=f"{ROOT}/ns_lcm_op_occs/{op.id}")
    for task, states in (("cancel", {OperationState.PROCESSING}), ("retry", {OperationState.FAILED_TEMP}),
                         ("rollback", {OperationState.FAILED_TEMP})):
        if op.state in states:
            body["_links"][task] = {"href": f"{ROOT}/ns_lcm_op_occs/{op.id}/{task}"}
    return body


def _params(op: OperationRecord) -> dict[str, Any]:
    """What was asked, without the descriptors an instantiation carries (they are the NSD's)."""
    request = dict(op.request) if isinstance(op.request, Mapping) else {}
    for bulky in ("package", "nsd", "vnfds"):
        request.pop(bulky, None)
    return request


def problem(status: int, title: str, detail: str, *, instance: str | None = None,
            type_: str = "about:blank") -> dict[str, Any]:
    """RFC 7807 / SOL013 ``ProblemDetails``."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return body


def holds(entry: Mapping[str, Any], path: str, wanted: str) -> bool:
    """SOL013's attribute-based filter, its ``eq`` test: the value at the dotted ``path``
    (``nsState``, ``nsInstanceId``, ``a.b``) is ``wanted``."""
    value: Any = entry
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value is not None and str(value) == wanted
