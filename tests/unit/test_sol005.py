"""mano's records as SOL005 resources, and SOL013 filters: pure, no server."""
from __future__ import annotations

import pytest

from mano.records import OperationRecord, ServiceRecord, VnfInstanceRef
from mano.rest.app import ProblemError, _kept, parse_filter
from mano.rest.sol005 import ns_instance, op_occ
from mano.states import OperationState, OperationType, ServiceState


def service(state: ServiceState, **extra) -> ServiceRecord:
    refs = (VnfInstanceRef(id="v1", vnf_id="vnf_fw", vnfd_name="firewall-vnf", vnfd_vendor="eu.sonata-nfv",
                           vnfd_version="0.2", pop="pop-0"),
            VnfInstanceRef(id="v2", vnf_id="vnf_fw", vnfd_name="firewall-vnf", vnfd_vendor="eu.sonata-nfv",
                           vnfd_version="0.2", pop="pop-1", terminated=True))
    return ServiceRecord(id="s1", name="demo", nsd={"name": "demo", "vendor": "v", "version": "1", "uuid": "nsd-1"},
                         vim="emulated", state=state, vnf_instances=refs, **extra)


@pytest.mark.parametrize("state, ns_state", [
    (ServiceState.INSTANTIATING, "NOT_INSTANTIATED"), (ServiceState.READY, "INSTANTIATED"),
    (ServiceState.SCALING, "INSTANTIATED"), (ServiceState.TERMINATED, "NOT_INSTANTIATED"),
    (ServiceState.FAILED, "NOT_INSTANTIATED")])
def test_a_service_is_instantiated_while_it_has_vnfs_deployed(state, ns_state):
    ns = ns_instance(service(state), {})
    assert (ns["id"], ns["nsdId"], ns["nsState"], ns["manoState"]) == ("s1", "nsd-1", ns_state, state.value)
    assert ("vnfInstance" in ns) == (ns_state == "INSTANTIATED")
    if ns_state == "INSTANTIATED":
        assert [v["id"] for v in ns["vnfInstance"]] == ["v1"]  # a removed instance is history, not a member
        assert ns["vnfInstance"][0]["instantiationState"] == "NOT_INSTANTIATED"  # no VNFR given
        assert set(ns["_links"]) >= {"self", "terminate", "scale", "heal"}


def test_an_operation_is_an_occurrence_with_its_tasks():
    held = OperationRecord(id="op-1", type=OperationType.SCALE_OUT, service_id="s1", state=OperationState.FAILED_TEMP,
                           error="step deploy_vnfs failed temporarily: VIM down", request={"vnf_id": "vnf_fw"})
    occ = op_occ(held)
    assert (occ["lcmOperationType"], occ["operationState"], occ["nsInstanceId"]) == ("SCALE", "FAILED_TEMP", "s1")
    assert occ["error"]["detail"] == "step deploy_vnfs failed temporarily: VIM down" and occ["error"]["status"] == 409
    assert set(occ["_links"]) == {"self", "nsInstance", "retry", "rollback"}
    assert occ["operationParams"] == {"vnf_id": "vnf_fw"} and occ["isCancelPending"] is False
    running = op_occ(OperationRecord(id="op-2", type=OperationType.MIGRATE, service_id="s1"), cancel_pending=True)
    assert running["lcmOperationType"] == "UPDATE" and running["isCancelPending"] and running["cancelMode"] == "GRACEFUL"
    assert set(running["_links"]) == {"self", "nsInstance", "cancel"} and "error" not in running


def test_sol013_filters():
    entries = [{"id": "a", "nsState": "INSTANTIATED", "x": {"y": "1"}}, {"id": "b", "nsState": "NOT_INSTANTIATED"}]
    assert [e["id"] for e in _kept(entries, parse_filter("(eq,nsState,INSTANTIATED)"))] == ["a"]
    assert [e["id"] for e in _kept(entries, parse_filter("(neq,nsState,INSTANTIATED)"))] == ["b"]
    assert [e["id"] for e in _kept(entries, parse_filter("(eq,x.y,1);(eq,id,a)"))] == ["a"]
    assert _kept(entries, parse_filter("(eq,x.y,1);(eq,id,b)")) == []
    assert _kept(entries, parse_filter(None)) == entries
    with pytest.raises(ProblemError, match="filter term 'nsState=READY': expected"):
        parse_filter("nsState=READY")
