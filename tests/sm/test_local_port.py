"""The in-process port: every override kind, every fallback, update, terminate and clean-up.

Same registry core as the SMR actor, with SMs as objects of the test process (no Ray).
"""
from __future__ import annotations

import dataclasses
import time

import pytest
from sm_helpers import (
    PACKAGES,
    SCHEDULE,
    demo_args,
    package_args,
    placement_payload,
    pops_payload,
    sm,
    task_payload,
)

from mano.lifecycle.states import ServiceState
from mano.records import ServiceRecord, SmStatus
from mano.sm.discovery import RunnerKind
from mano.sm.local import LocalSpecificManagers
from mano.lifecycle.sm_port import SmOutcome, SmRequestError, SmUpdateError, UnknownSmError

ATHENS, AVEIRO, GHENT = (p["id"] for p in pops_payload())
SID = "7a1c5e0e-0000-4000-8000-000000000001"
FIREWALL_VNFD = {"virtual_deployment_units": [{"id": "vdu01"}]}


@pytest.fixture(autouse=True)
def service(store):
    """A READY service record for SID (the reconcile pass terminates SMs of unknown services)."""
    store.services.insert(ServiceRecord(id=SID, name="s", nsd={}, vim="emulated", state=ServiceState.READY))


def python_runner(port: LocalSpecificManagers):
    return port.runners[RunnerKind.PYTHON]


def status_of(port: LocalSpecificManagers, sm_id: str) -> SmStatus:
    return SmStatus(next(r for r in port.records(SID) if r["sm_id"] == sm_id)["status"])


def record_of(port: LocalSpecificManagers, sm_id: str) -> dict:
    return next(r for r in port.records(SID) if r["sm_id"] == sm_id)


# --- on-boarding -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PACKAGES)
def test_onboard_instantiates_each_example(local, name):
    records = local.onboard(SID, *package_args(name))
    assert [r["status"] for r in records] == ["INSTANTIATED"]
    assert records[0]["owner_id"] == SID and records[0]["version"] == "1" and records[0]["error"] is None


def test_onboard_is_idempotent(local):
    first = local.onboard(SID, *package_args("placement-pinning"))
    again = local.onboard(SID, *package_args("placement-pinning"))
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert again[0]["version"] == "1" and again[0]["rev"] == first[0]["rev"]  # untouched


def test_untyped_sms_are_not_onboarded(local):
    nsd, vnfds = demo_args([sm("dumb", "python://examples.ssm.task:MoveBefore")])
    assert local.onboard(SID, nsd, vnfds) == []
    assert local.ssm(SID, "task", task_payload()) == SmOutcome(used=False, reason="absent")


def test_an_sm_that_cannot_start_fails_alone(local):
    ssms = [sm("ok", "python://examples.ssm.task:MoveBefore", "task", move="configure_vnfs<start_vnfs"),
            sm("boom", "python://faulty_sms:FailsAtStart", "placement"),
            sm("nomod", "python://no_such_module:X", "state"),
            sm("notsm", "python://faulty_sms:NotAnSm", "configure")]
    records = {r["sm_id"]: r for r in local.onboard(SID, *demo_args(ssms))}
    assert records["ok"]["status"] == "INSTANTIATED"
    assert records["boom"]["status"] == "FAILED" and "cannot reach my database" in records["boom"]["error"]
    assert "cannot import no_such_module" in records["nomod"]["error"]
    assert "not a ServiceSpecificManager" in records["notsm"]["error"]
    outcome = local.ssm(SID, "placement", placement_payload(["vnf_iperf"]))
    assert not outcome.used and outcome.reason.startswith("absent (boom is FAILED: ") and outcome.sm_id == "boom"
    assert local.ssm(SID, "task", task_payload()).used


def test_a_failed_sm_is_restarted_by_the_next_onboarding(local, sm_config):
    ssms = [sm("v", "python://faulty_sms:Versioned", "state")]
    local.onboard(SID, *demo_args(ssms))
    python_runner(local).stop_instance(python_runner(local).running()[0])  # the SM "crashes"
    assert local.reconcile()["failed"] == [f"{SID}/v"]
    assert status_of(local, "v") is SmStatus.FAILED
    [record] = local.onboard(SID, *demo_args(ssms))
    assert record["status"] == "INSTANTIATED" and record["version"] == "2"
    assert local.ssm(SID, "state", {}).result["content"] == {"version": "v1", "sm_version": "2"}


def test_allowed_modules(store, sm_config):
    port = LocalSpecificManagers(store, dataclasses.replace(sm_config, python_modules=("examples.ssm",)))
    ssms = [sm("ok", "python://examples.ssm.task:MoveBefore", "task"), sm("no", "python://faulty_sms:Raising", "placement")]
    records = {r["sm_id"]: r for r in port.onboard(SID, *demo_args(ssms))}
    assert records["ok"]["status"] == "INSTANTIATED"
    assert records["no"]["status"] == "FAILED" and "not allowed" in records["no"]["error"]


# --- every override kind changes what the workflow gets ----------------------------------------
def test_placement_ssm_pins_by_rule(local):
    local.onboard(SID, *package_args("placement-pinning"))
    outcome = local.ssm(SID, "placement", placement_payload(["vnf_firewall", "vnf_iperf", "vnf_tcpdump"]))
    assert outcome == SmOutcome(used=True, sm_id="pin-by-rule", result={
        "vnf_firewall-1": ATHENS, "vnf_iperf-1": GHENT, "vnf_tcpdump-1": GHENT})
    pinned = local.ssm(SID, "placement", placement_payload(["vnf_firewall"], pinned={"vnf_firewall-1": AVEIRO}))
    assert pinned.result == {"vnf_firewall-1": AVEIRO}


def test_task_ssm_reorders_the_schedule(local):
    local.onboard(SID, *package_args("task-reorder"))
    outcome = local.ssm(SID, "task", task_payload())
    assert outcome.used and outcome.result["schedule"] == [
        "validate", "place", "create_networks", "deploy_vnfs", "configure_vnfs", "start_vnfs", "store_records"]
    assert sorted(outcome.result["schedule"]) == sorted(SCHEDULE)


def test_configure_ssm(local):
    local.onboard(SID, *package_args("configure-chain"))
    payload = {"workflow": "instantiate", "functions": [{"vnf_id": v, "instance_id": f"{v}-1"} for v in
                                                        ("vnf_iperf", "vnf_firewall", "vnf_tcpdump")]}
    outcome = local.ssm(SID, "configure", payload)
    assert outcome.used
    assert outcome.result["vnf_firewall"] == {"position": 2, "next_hop": "vnf_tcpdump", "workflow": "instantiate",
                                              "log_level": "debug"}
    assert outcome.result["vnf_tcpdump"]["next_hop"] == "egress"


def test_start_stop_fsm_sets_env_and_keeps_config(local):
    local.onboard(SID, *package_args("fsm-start-stop"))
    base = {"vnf_id": "vnf_firewall", "instance_id": "fw-1", "vnfd": FIREWALL_VNFD}
    start = local.fsm(SID, "vnf_firewall", "start", base)
    assert start.used and start.sm_id == "vnf_firewall/firewall-env"
    [unit] = start.result["envs"]
    assert unit["cdu_id"] == "vdu01" and unit["envs"]["FW_POLICY"] == "drop-invalid" and unit["envs"]["MANO_INSTANCE"] == "fw-1"
    configure = local.fsm(SID, "vnf_firewall", "configure", {**base, "data": {"config": {"next_hop": "vnf_tcpdump"}}})
    assert configure.result["envs"][0]["envs"] == {"CFG_NEXT_HOP": "vnf_tcpdump"}
    stop = local.fsm(SID, "vnf_firewall", "stop", base)
    assert stop.result["persist"] == {"instance": "fw-1", "config": {"next_hop": "vnf_tcpdump"}}
    # other VNFs and other kinds have no FSM: the FLM's default runs
    assert local.fsm(SID, "vnf_iperf", "start", {**base, "vnf_id": "vnf_iperf"}).reason == "absent"
    assert local.fsm(SID, "vnf_firewall", "scale", base).reason == "absent"


def test_monitor_ssm_asks_for_scale_out_above_threshold(local):
    local.onboard(SID, *package_args("monitor-scale"))

    def alert(value):
        return local.ssm(SID, "monitor", {"alert": {"name": "cpu", "metric": "vm_cpu_perc", "value": value,
                                                    "vnf_id": "vnf_iperf"}})
    calm = alert(42.0)
    assert calm.used and calm.result is None
    hot = alert(93.5)
    assert hot.used and hot.result["workflow"] == "scale_out"
    assert hot.result["params"]["vnf_id"] == "vnf_iperf" and hot.result["params"]["count"] == 1
    assert alert(99.0).result is None  # cool-down: one scale-out per burst


def test_monitoring_hands_alerts_to_the_monitor_ssm_and_requests_what_it_asks_for(local, store):
    from mano.lifecycle.monitoring import MonitoringCore
    from mano.lifecycle.states import OperationType
    local.onboard(SID, *package_args("monitor-scale"))
    requested = []
    core = MonitoringCore(store, stats=lambda *_: {}, status=lambda *_: "running", sms=local,
                          request=lambda service_id, op, params: requested.append((service_id, op, params)))
    hot = {"serviceID": SID, "alertname": "cpu", "metric": "vm_cpu_perc", "value": 93.5, "vnf_id": "vnf_iperf"}
    assert core.alert({**hot, "value": 42.0}).endswith("took no action")
    assert requested == []
    assert "asked for scale_out" in core.alert(hot)
    assert requested == [(SID, OperationType.SCALE_OUT, {"vnf_id": "vnf_iperf", "count": 1, "reason": "vm_cpu_perc=93.5"})]
    # a service without a monitor SSM gets the default policy (no auto_scale_policy: recorded only)
    assert core.alert({**hot, "serviceID": "no-such-service"}) == "ignored: service not ready"


# --- fallbacks -------------------------------------------------------------------------------
def test_absent(local):
    assert local.ssm(SID, "placement", placement_payload(["a"])) == SmOutcome(used=False, reason="absent")
    local.onboard(SID, *package_args("task-reorder"))
    assert local.ssm(SID, "placement", placement_payload(["a"])).reason == "absent"


def test_raising_ssm_falls_back_with_the_error_recorded(local):
    local.onboard(SID, *demo_args([sm("r", "python://faulty_sms:Raising", "placement", "task")]))
    outcome = local.ssm(SID, "placement", placement_payload(["vnf_iperf"]))
    assert outcome == SmOutcome(used=False, sm_id="r", reason="raised KeyError: 'no such pop'")
    record = record_of(local, "r")
    assert record["status"] == "INSTANTIATED" and record["error"] == "placement: raised KeyError: 'no such pop'"
    assert local.ssm(SID, "task", task_payload()).reason == "raised RuntimeError: task SSM exploded"


def test_hanging_ssm_times_out_and_is_failed(local):
    local.onboard(SID, *demo_args([sm("h", "python://faulty_sms:Hanging", "placement", sleep_s="3")]))
    started = time.monotonic()
    outcome = local.ssm(SID, "placement", placement_payload(["vnf_iperf"]), timeout=0.3)
    assert time.monotonic() - started < 2
    assert outcome == SmOutcome(used=False, sm_id="h", reason="timeout after 0.3 s")
    record = record_of(local, "h")
    assert record["status"] == "FAILED" and "no answer within 0.3 s" in record["error"]
    again = local.ssm(SID, "placement", placement_payload(["vnf_iperf"]))
    assert not again.used and again.reason.startswith("absent (h is FAILED")


def test_lying_ssm_is_ignored(local):
    local.onboard(SID, *demo_args([sm("l", "python://faulty_sms:Lying", "placement", "task", "monitor")]))
    placement = local.ssm(SID, "placement", placement_payload(["vnf_iperf"]))
    assert not placement.used and placement.reason.startswith(
        "invalid answer: vnf_iperf (vnf_iperf-1) is placed on unknown PoP 'pop-that-does-not-exist'")
    task = local.ssm(SID, "task", task_payload())
    assert task.reason.startswith("invalid answer: schedule drops required steps")
    monitor = local.ssm(SID, "monitor", {"alert": {"name": "x"}})
    assert monitor.reason.startswith("invalid answer: workflow")
    assert status_of(local, "l") is SmStatus.INSTANTIATED  # a liar keeps running; its answers are ignored


def test_garbage_answers(local):
    local.onboard(SID, *demo_args([sm("g", "python://faulty_sms:Garbage", "placement", "task")]))
    assert local.ssm(SID, "placement", placement_payload(["vnf_iperf"])).reason.startswith(
        "invalid answer: not plain data")
    assert local.ssm(SID, "task", task_payload()).reason.startswith("invalid answer: answer: Input should be")


def test_lying_fsm(local):
    fsm = [sm("lf", "python://faulty_sms:LyingFsm", "start", "stop")]
    local.onboard(SID, *demo_args(fsms={"vnf_firewall": fsm}))
    base = {"vnf_id": "vnf_firewall", "instance_id": "fw-1", "vnfd": FIREWALL_VNFD}
    assert "unknown deployment units 'vdu99'" in local.fsm(SID, "vnf_firewall", "start", base).reason
    assert local.fsm(SID, "vnf_firewall", "stop", base).reason.startswith("invalid answer: status")


def test_caller_errors_raise(local):
    with pytest.raises(SmRequestError):
        local.ssm(SID, "start", {})
    with pytest.raises(SmRequestError):
        local.ssm(SID, "placement", {"functions": []})


# --- update ------------------------------------------------------------------------------------
def test_update_swaps_the_class_and_keeps_the_service(local):
    local.onboard(SID, *demo_args([sm("v", "python://faulty_sms:Versioned", "state"),
                                   sm("t", "python://examples.ssm.task:MoveBefore", "task")]))
    assert local.ssm(SID, "state", {}).result["content"] == {"version": "v1", "sm_version": "1"}
    updated = local.update(SID, "v", "python://faulty_sms:VersionedTwo")
    assert updated["status"] == "UPDATED" and updated["version"] == "2" and updated["image"].endswith("VersionedTwo")
    assert local.ssm(SID, "state", {}).result["content"] == {"version": "v2", "sm_version": "2"}
    assert len(python_runner(local).running()) == 2  # v (new generation) and t
    assert local.ssm(SID, "task", task_payload()).used  # the rest of the service is untouched


def test_a_failed_update_keeps_the_old_version(local):
    local.onboard(SID, *demo_args([sm("v", "python://faulty_sms:Versioned", "state")]))
    with pytest.raises(SmUpdateError, match="keeps running"):
        local.update(SID, "v", "python://faulty_sms:FailsAtStart")
    record = record_of(local, "v")
    assert record["status"] == "INSTANTIATED" and record["version"] == "1" and "update to" in record["error"]
    assert local.ssm(SID, "state", {}).result["content"]["version"] == "v1"
    with pytest.raises(UnknownSmError):
        local.update(SID, "nope", "python://faulty_sms:Versioned")


def test_update_an_fsm_by_descriptor_id(local):
    local.onboard(SID, *package_args("fsm-start-stop"))
    updated = local.update(SID, "firewall-env", "python://faulty_sms:LyingFsm")
    assert updated["sm_id"] == "vnf_firewall/firewall-env" and updated["status"] == "UPDATED"


# --- terminate and clean-up ---------------------------------------------------------------------
def test_terminate_stops_every_sm_of_the_service(local):
    local.onboard(SID, *package_args("fsm-start-stop"))
    local.onboard(SID, *demo_args([sm("t", "python://examples.ssm.task:MoveBefore", "task")],
                                  fsms={"vnf_firewall": [sm("firewall-env", "python://examples.ssm.fsm:EnvStartStop",
                                                            "start")]}))
    other = "7a1c5e0e-0000-4000-8000-000000000002"
    local.onboard(other, *package_args("task-reorder"))
    local.terminate(SID)
    assert {r["status"] for r in local.records(SID)} == {"TERMINATED"}
    assert local.ssm(SID, "task", task_payload()).reason.startswith("absent (t is TERMINATED")
    assert [i.service_id for i in python_runner(local).running()] == [other]
    local.terminate(SID)  # idempotent
    assert local.ssm(other, "task", task_payload()).used


def test_reconcile_terminates_sms_of_dead_or_unknown_services(local, store):
    live, dead, unknown = (f"7a1c5e0e-0000-4000-8000-00000000001{i}" for i in range(3))
    for service_id, state in ((live, ServiceState.READY), (dead, ServiceState.TERMINATED)):
        store.services.insert(ServiceRecord(id=service_id, name="s", nsd={}, vim="emulated", state=state))
    for service_id in (live, dead, unknown):
        local.onboard(service_id, *package_args("task-reorder"))
    done = local.reconcile()
    assert sorted(done["terminated_services"]) == sorted([dead, unknown])
    assert local.ssm(live, "task", task_payload()).used
    assert local.ssm(dead, "task", task_payload()).reason.startswith("absent (configure-before-start is TERMINATED")



def test_reconcile_leaves_other_registries_sms_alone(local):
    from mano.sm.runner import SmLaunch
    from ssm.models import ManagerType

    foreign = SmLaunch(record_id="r", service_id="someone-elses-service", sm_id="t", sm_type=ManagerType.SSM,
                       version="1", image="python://examples.ssm.task:MoveBefore", topic="generic.ssm.x")
    python_runner(local).start(foreign, timeout=5)
    local.onboard(SID, *package_args("task-reorder"))
    leaked = SmLaunch(record_id="r2", service_id=SID, sm_id="configure-before-start", sm_type=ManagerType.SSM,
                      version="9", image="python://examples.ssm.task:MoveBefore", topic="generic.ssm.x")
    python_runner(local).start(leaked, timeout=5)
    assert local.reconcile()["stopped"] == [leaked.name]  # an old generation of ours: stopped
    assert python_runner(local).alive(foreign)  # not ours: left alone
