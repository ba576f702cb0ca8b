"""The lifecycle workflows end to end in-process (no Ray, no server): in-memory store, emulated VIM."""
from __future__ import annotations

import pytest

import dataclasses

from mano.descriptors import load_service
from mano.errors import AlreadyTerminatedError, InstanceBusyError, LifecycleError, UnknownInstanceError
from mano.lifecycle.first_fit import first_fit_outcome
from mano.lifecycle.local import FirstFitPlacement
from mano.lifecycle.ports import FunctionDeployment
from mano.lifecycle.states import OperationState, OperationType, ServiceState, StepState, VnfState
from mano.lifecycle.vnf import VnfController
from mano.vim.emulated import FaultPlan

from lifecycle_harness import Harness, small_pops
from paths import EXAMPLES

DEMO_VNFS = {"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}


def test_instantiate_demo_records_everything(harness, demo, store):
    op = harness.instantiate(demo)
    assert op.state == OperationState.COMPLETED, op.error
    assert [s.state for s in op.steps] == [StepState.DONE] * 7
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.READY and service.current_operation is None
    assert {v.vnf_id for v in service.vnf_instances} == DEMO_VNFS
    assert all(v.live for v in service.vnf_instances)
    assert {store.vnfr.get(v.id).vnf_state for v in service.vnf_instances} == {VnfState.RUNNING}
    nsr = store.nsr.get(op.service_id).to_sonata()
    assert nsr["status"] == "normal operation" and nsr["version"] == "1"
    assert sorted(f["vnfr_id"] for f in nsr["network_functions"]) == sorted(v.id for v in service.vnf_instances)
    assert nsr["descriptor_reference"] == demo.nsd.uuid
    vnfr = store.vnfr.get(service.vnf_instances[0].id).to_sonata()
    unit = vnfr["virtual_deployment_units"][0]
    assert unit["id"].endswith(service.vnf_instances[0].id)
    assert unit["vnfc_instance"][0]["connection_points"][0]["interface"]["address"].count(".") == 3
    # 3 VNFs of 1 core / 2 GB each, first-fit on the first PoP
    assert harness.used() == {"pop-0": (3.0, 6.0), "pop-1": (0.0, 0.0)}


def test_vnfs_on_one_link_share_a_network(harness, demo, store):
    op = harness.instantiate(demo)
    service = store.services.get(op.service_id)
    addresses = {}
    for v in service.vnf_instances:
        vnfr = store.vnfr.get(v.id).to_sonata()
        cps = vnfr["virtual_deployment_units"][0]["vnfc_instance"][0]["connection_points"]
        addresses[v.vnf_id] = {cp["id"]: cp["interface"]["address"] for cp in cps}
    # iperf's mgmt point (vdu01:cp01) and firewall's (vdu01:eth0) are on the NSD's E-LAN "mgmt"
    iperf, firewall = addresses["vnf_iperf"]["vdu01:cp01"], addresses["vnf_firewall"]["vdu01:eth0"]
    assert iperf.rsplit(".", 1)[0] == firewall.rsplit(".", 1)[0] and iperf != firewall


def test_failure_mid_deploy_rolls_back_and_says_why(harness, demo, store):
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="tcpdump-vnf", message="disk on fire"))
    op = harness.instantiate(demo)
    assert op.state == OperationState.ROLLED_BACK
    assert "disk on fire" in op.error and "tcpdump" in op.error
    assert op.step("deploy_vnfs").state == StepState.FAILED
    assert op.step("create_networks").state == StepState.ROLLED_BACK
    assert store.services.get(op.service_id).state == ServiceState.FAILED
    assert harness.used() == {"pop-0": (0.0, 0.0), "pop-1": (0.0, 0.0)}
    # the two VNFs that did deploy were removed and their records say so
    assert all(r.to_sonata()["status"] == "terminated" for r in store.vnfr.find({"service_id": op.service_id}))
    assert store.vnfr.count({"service_id": op.service_id}) == 2
    assert store.services.get(op.service_id).vnf_instances == ()


def test_temporary_fault_is_retried(harness, demo):
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf", temporary=True))
    op = harness.instantiate(demo)
    assert op.state == OperationState.COMPLETED
    assert op.step("deploy_vnfs").attempts == 2


def test_no_capacity_fails_at_placement_with_the_reason(store, demo):
    harness = Harness(store, small_pops(cores=1, memory=16, count=2))
    op = harness.instantiate(demo)
    assert op.state == OperationState.ROLLED_BACK
    assert op.step("place").state == StepState.FAILED
    assert "needs 1 cores and 2 GB" in op.error
    assert harness.used() == {"pop-0": (0.0, 0.0), "pop-1": (0.0, 0.0)}


def test_terminate_releases_everything_and_double_terminate_is_refused(harness, demo, store):
    op = harness.instantiate(demo)
    term = harness.run(harness.slm.request(op.service_id, OperationType.TERMINATE))
    assert term.state == OperationState.COMPLETED
    assert store.services.get(op.service_id).state == ServiceState.TERMINATED
    nsr = store.nsr.get(op.service_id).to_sonata()
    assert nsr["status"] == "terminated" and nsr["version"] == "2"
    assert all(r.to_sonata()["status"] == "terminated" for r in store.vnfr.find({"service_id": op.service_id}))
    assert harness.used() == {"pop-0": (0.0, 0.0), "pop-1": (0.0, 0.0)}
    with pytest.raises(AlreadyTerminatedError, match="nsr already terminated"):
        harness.slm.request(op.service_id, OperationType.TERMINATE)


def test_busy_unknown_and_bad_requests_are_refused(harness, demo):
    op = harness.slm.instantiate(demo)  # admitted, not yet run: the service is INSTANTIATING
    with pytest.raises(InstanceBusyError, match="Workflow for service still going on, rejected"):
        harness.slm.request(op.service_id, OperationType.TERMINATE)
    with pytest.raises(UnknownInstanceError, match="no service instance 'nope'"):
        harness.slm.request("nope", OperationType.TERMINATE)
    harness.run(op)
    with pytest.raises(LifecycleError, match="no network function 'vnf_ghost'"):
        harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_ghost"})
    with pytest.raises(LifecycleError, match="count must be a whole number"):
        harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf", "count": "7"})
    with pytest.raises(LifecycleError, match="Not enough instances running"):
        harness.slm.request(op.service_id, OperationType.SCALE_IN, {"vnf_id": "vnf_iperf", "count": 1})


def test_operation_ids_make_requests_idempotent(harness, demo, store):
    first = harness.slm.instantiate(demo, operation_id="corr-1")
    again = harness.slm.instantiate(demo, operation_id="corr-1")
    assert again.id == first.id and again.service_id == first.service_id
    assert store.services.count() == 1
    harness.run(first)
    with pytest.raises(LifecycleError, match="already used by a instantiate operation"):
        harness.slm.request(first.service_id, OperationType.TERMINATE, operation_id="corr-1")


def test_scale_out_then_in(harness, demo, store):
    op = harness.instantiate(demo)
    out = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf", "count": 2}))
    assert out.state == OperationState.COMPLETED, out.error
    service = store.services.get(op.service_id)
    assert sum(v.vnf_id == "vnf_iperf" for v in service.vnf_instances) == 3
    nsr = store.nsr.get(op.service_id).to_sonata()
    assert nsr["version"] == "2" and len(nsr["network_functions"]) == 5
    assert sum(harness.used()[p][0] for p in harness.used()) == 5.0
    scale_in = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_IN, {"vnf_id": "vnf_iperf", "count": 2}))
    assert scale_in.state == OperationState.COMPLETED, scale_in.error
    nsr = store.nsr.get(op.service_id).to_sonata()
    assert nsr["version"] == "3" and len(nsr["network_functions"]) == 3
    assert sum(harness.used()[p][0] for p in harness.used()) == 3.0
    assert store.services.get(op.service_id).state == ServiceState.READY


def test_scale_out_failure_rolls_back_to_ready(harness, demo, store):
    op = harness.instantiate(demo)
    harness.vim_driver.inject_fault(FaultPlan(vnf_name="iperf-vnf"))
    out = harness.run(harness.slm.request(op.service_id, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf"}))
    assert out.state == OperationState.ROLLED_BACK
    service = store.services.get(op.service_id)
    assert service.state == ServiceState.READY and len(service.vnf_instances) == 3
    assert sum(harness.used()[p][0] for p in harness.used()) == 3.0


def test_heal_redeploys_a_crashed_vnf(harness, demo, store):
    op = harness.instantiate(demo)
    victim = store.services.get(op.service_id).vnf_instances[1]
    old = store.vnfr.get(victim.id).to_sonata()
    harness.vim_driver.crash_vnf(victim.id)
    assert harness.functions.status(victim.id) == "failed"
    heal = harness.run(harness.slm.request(op.service_id, OperationType.HEAL, {"vnf_instance_id": victim.id}))
    assert heal.state == OperationState.COMPLETED, heal.error
    assert harness.functions.status(victim.id) == "running"
    new = store.vnfr.get(victim.id).to_sonata()
    assert new["version"] == "2"
    old_vc = old["virtual_deployment_units"][0]["vnfc_instance"][0]["vc_id"]
    assert new["virtual_deployment_units"][0]["vnfc_instance"][0]["vc_id"] != old_vc
    assert sum(harness.used()[p][0] for p in harness.used()) == 3.0


def test_migrate_moves_a_vnf_make_before_break(harness, demo, store):
    op = harness.instantiate(demo)
    moving = next(v for v in store.services.get(op.service_id).vnf_instances if v.vnf_id == "vnf_firewall")
    assert moving.pop == "pop-0"
    mig = harness.run(harness.slm.request(op.service_id, OperationType.MIGRATE,
                                          {"vnf_instance_id": moving.id, "pop": "pop-1"}))
    assert mig.state == OperationState.COMPLETED, mig.error
    live = [v for v in store.services.get(op.service_id).vnf_instances if v.live]
    firewall = [v for v in live if v.vnf_id == "vnf_firewall"]
    assert len(firewall) == 1 and firewall[0].pop == "pop-1" and firewall[0].id != moving.id
    assert harness.used() == {"pop-0": (2.0, 4.0), "pop-1": (1.0, 2.0)}
    assert store.vnfr.get(moving.id).to_sonata()["status"] == "terminated"
    with pytest.raises(LifecycleError, match="needs the target PoP"):
        harness.slm.request(op.service_id, OperationType.MIGRATE, {"vnf_instance_id": firewall[0].id})


def test_reconfigure_reaches_every_live_vnf(harness, demo, store):
    op = harness.instantiate(demo)
    rec = harness.run(harness.slm.request(op.service_id, OperationType.RECONFIGURE, {"payload": {"rules": "deny all"}}))
    assert rec.state == OperationState.COMPLETED
    assert len(rec.step("configure_vnfs").result["configured"]) == 3
    assert store.nsr.get(op.service_id).to_sonata()["version"] == "2"


def test_engine_placement_balances_load_and_honours_pins(store, demo):
    from mano.lifecycle.local import EnginePlacement
    harness = Harness(store, small_pops(count=3))
    harness.placement = EnginePlacement()
    op = harness.instantiate(demo)
    assert op.state == OperationState.COMPLETED, op.error
    assert {cores for cores, _ in harness.used().values()} == {1.0}  # load balanced: one VNF per PoP
    pinned = harness.instantiate(demo, params={"pinned": {"vnf_iperf": "pop-2"}})
    iperf = next(v for v in store.services.get(pinned.service_id).vnf_instances if v.vnf_id == "vnf_iperf")
    assert iperf.pop == "pop-2"


def test_an_operation_whose_admission_was_interrupted_is_not_applied(harness, demo, store):
    from mano.records import OperationRecord
    op = harness.instantiate(demo)
    # the SLM recorded a terminate but died before the service took it
    orphan = store.operations.insert(OperationRecord(id="orphan", type=OperationType.TERMINATE, service_id=op.service_id))
    result = harness.run(orphan)
    assert result.state == OperationState.FAILED and "not applied" in result.error
    assert store.services.get(op.service_id).state == ServiceState.READY
    gone = store.operations.insert(OperationRecord(id="gone", type=OperationType.INSTANTIATE, service_id="never-stored"))
    assert harness.run(gone).state == OperationState.FAILED


def test_the_place_step_records_which_solver_answered_and_how_well(harness, demo):
    op = harness.instantiate(demo)
    assert op.step("place").result["placement"]["solver"] == "first fit"  # the harness's placement
    assert "fallback" not in op.step("place").result["placement"]  # chosen, not fallen back to

    from mano.lifecycle.local import EnginePlacement
    harness.placement = EnginePlacement()
    op = harness.instantiate(demo)
    how = op.step("place").result["placement"]
    assert how["solver"] in ("exhaustive", "exact", "fast") and isinstance(how["objective"], float)
    assert how["seconds"] >= 0 and "fallback" not in how


class _CountingPorts:
    """Wraps a port and counts the calls made through it, by method."""

    def __init__(self, port, calls, **attributes):
        self._port, self._calls = port, calls
        self.__dict__.update(attributes)

    def __getattr__(self, name):
        value = getattr(self._port, name)
        if not callable(value):
            return value

        def counted(*args, **kwargs):
            self._calls[name] = self._calls.get(name, 0) + 1
            return value(*args, **kwargs)
        return counted


class _PopReadingPlacement:
    """A Placement port that ``reads_pops``, as the Ray one does (from the same in-process VIM)."""

    reads_pops = True

    def __init__(self, vim):
        self.vim, self.sent = vim, []

    def place(self, request):
        self.sent.append(request)
        return first_fit_outcome(dataclasses.replace(request, pops=tuple(self.vim.list_pops(request.vim))))


def test_a_plain_service_deploys_and_starts_each_vnf_in_one_call_and_sends_no_empty_configure(harness, demo, store):
    calls: dict[str, int] = {}
    harness.functions = _CountingPorts(harness.functions, calls)
    vim_calls: dict[str, int] = {}
    harness.placement = _PopReadingPlacement(harness.vim)
    harness.vim = _CountingPorts(harness.vim, vim_calls)
    op = harness.instantiate(demo)
    assert op.state == OperationState.COMPLETED, op.error
    # one batch for deploy-and-start; no start batch, no configure batch with nothing in it
    assert {k: v for k, v in calls.items() if k != "new_instance_ids"} == {"deploy": 1}
    assert "list_pops" not in vim_calls  # the port read the PoPs itself
    assert harness.placement.sent[0].pops == () and harness.placement.sent[0].vim == "emulated"
    assert harness.placement.sent[0].reads_pops  # a question brings its PoPs: it is never sent mano's
    assert not dataclasses.replace(harness.placement.sent[0], question=True).reads_pops
    ids = [v.id for v in store.services.get(op.service_id).vnf_instances]
    assert {store.vnfr.get(i).vnf_state for i in ids} == {VnfState.RUNNING}
    assert sorted(op.step("deploy_vnfs").result["started"]) == sorted(ids)
    assert sorted(op.step("start_vnfs").result["started"]) == sorted(ids)
    assert sorted(op.step("configure_vnfs").result["configured"]) == sorted(ids)
    # a placement port that does not read PoPs is sent them
    harness.placement = FirstFitPlacement()
    assert harness.instantiate(demo).state == OperationState.COMPLETED
    assert vim_calls["list_pops"] == 1


def test_a_deploy_that_stopped_before_its_start_starts_when_retried(store):
    pkg = load_service(EXAMPLES / "sonata-demo")
    harness = Harness(store, small_pops())
    vnfd = pkg.vnfd(pkg.nsd.network_functions[0].vnf_id)
    request = FunctionDeployment(service_id="s-1", vnf_instance_id="v-1", vnf_id=vnfd.name, vnfd=vnfd, pop="pop-0")
    vnf = VnfController("v-1", store, harness.vim)
    vnf.deploy(request)  # without start: left DEPLOYED, as by a crash between the two writes
    assert store.vnfr.get("v-1").vnf_state == VnfState.DEPLOYED
    VnfController("v-1", store, harness.vim).deploy(dataclasses.replace(request, start=True))
    assert store.vnfr.get("v-1").vnf_state == VnfState.RUNNING
    VnfController("v-1", store, harness.vim).deploy(dataclasses.replace(request, start=True))  # idempotent
    assert store.vnfr.get("v-1").vnf_state == VnfState.RUNNING
    assert harness.vim_driver.list_pops()[0].core_used == vnfd.vcpus  # deployed once


def test_a_restarted_emulated_vim_re_adopts_the_live_vnfs_of_the_records(harness, demo, store):
    from mano.vim.emulated import EmulatedVim
    op = harness.instantiate(demo)
    live = lambda: store.vnfr.find({"vim": "emulated", "vnf_state": {"$ne": VnfState.TERMINATED.value}})  # noqa: E731
    fresh = EmulatedVim(small_pops(), seed=1)
    assert fresh.adopt_records(live()) == 3
    assert {p.vim_uuid: (p.core_used, p.memory_used) for p in fresh.list_pops()} == harness.used()
    assert fresh.adopt_records(live()) == 3 and fresh.list_pops()[0].core_used == harness.used()["pop-0"][0]
    assert set(fresh.deployments()) == {v.id for v in store.services.get(op.service_id).vnf_instances}
    # a record on a PoP this VIM no longer has is skipped, the others adopted
    elsewhere = EmulatedVim(small_pops()[1:], seed=1)
    on_pop_1 = sum(1 for v in live() if v.pop == "pop-1")
    assert on_pop_1 < 3 and elsewhere.adopt_records(live()) == on_pop_1
