"""The lifecycle on real actors: Ray, the store and the emulated VIM, through the public API."""
from __future__ import annotations

import os
import signal

import pytest
import ray

import mano
from mano.errors import AlreadyTerminatedError, DescriptorError, InstanceBusyError, LifecycleError, UnknownInstanceError
from mano.lifecycle.states import OperationState, StepState
from paths import EXAMPLES

from conftest_runtime import activation, full_spare_pools, used_cores, vnf_activation, wait_until
from mano.lifecycle.host_pool import is_host_name

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"


def actor_names():
    from actors.runtime import actor_names as names
    return names()


def test_demo_lifecycle_end_to_end(rt):
    base = used_cores(rt)
    wait_until(lambda: full_spare_pools(rt), timeout=30)
    svc = mano.instantiate(DEMO)
    assert svc.status == "READY"
    assert is_host_name("service", activation(rt, svc.id))  # its first operation ran on a pre-started host
    vnf_ids = [v.id for v in svc.record.vnf_instances]
    assert all(is_host_name("vnf", vnf_activation(rt, v)) for v in vnf_ids)  # one actor per VNF instance
    # the dashboard shows no instance that does not exist: every service:/vnf: actor has a record
    for name in actor_names():
        kind, _, ident = name.partition(":")
        if kind == "service":
            assert rt.store.services.find_one(ident) is not None, name
        elif kind == "vnf":
            assert rt.store.vnfr.find_one(ident) is not None, name
    assert svc.nsr["status"] == "normal operation" and len(svc.vnfrs) == 3
    assert used_cores(rt) == base + 3
    placed = rt.store.operations.get(svc.last_operation).step("place").result["placement"]
    assert placed["solver"] in ("exhaustive", "exact", "fast") and "fallback" not in placed  # the engine answered

    svc.scale_out("vnf_iperf", 2)
    assert len(svc.nsr["network_functions"]) == 5 and svc.nsr["version"] == "2"
    svc.scale_in("vnf_iperf", 1)
    assert len(svc.nsr["network_functions"]) == 4 and used_cores(rt) == base + 4

    victim = svc.record.vnf_instances[0].id
    rt.call("infrastructure-adaptor", "crash_vnf", victim)
    assert rt.call("flm", "status", victim) == "failed"
    svc.heal(victim)
    assert rt.call("flm", "status", victim) == "running"

    svc.terminate()
    assert svc.status == "TERMINATED" and svc.nsr["status"] == "terminated"
    assert used_cores(rt) == base
    assert [o.type.value for o in svc.operations] == ["instantiate", "scale_out", "scale_in", "heal", "terminate"]
    with pytest.raises(AlreadyTerminatedError, match="nsr already terminated"):
        svc.terminate()


def test_vim_failure_mid_deploy_rolls_back(rt):
    base = used_cores(rt)
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "firewall-vnf", "message": "PoP exploded"})
    with pytest.raises(mano.OperationFailedError) as info:
        mano.instantiate(DEMO)
    op = info.value.operation
    assert op.state == OperationState.ROLLED_BACK and "PoP exploded" in op.error
    assert op.step("deploy_vnfs").state == StepState.FAILED
    assert mano.get(op.service_id).status == "FAILED"
    assert used_cores(rt) == base
    records = rt.store.vnfr.find({"service_id": op.service_id})
    assert records and all(r.to_sonata()["status"] == "terminated" for r in records)


def test_a_held_instantiation_waits_for_the_operator_who_retries_it(rt):
    base = used_cores(rt)
    # 3 attempts fail (one round of retries), so the deploy step holds; the retry's first succeeds
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "temporary": True, "times": 3,
                                                       "message": "VIM API unreachable"})
    with pytest.raises(mano.OperationFailedError, match="is FAILED_TEMP: .*VIM API unreachable.*mano.retry") as info:
        mano.instantiate(DEMO)
    op = info.value.operation
    assert op.state == OperationState.FAILED_TEMP and op.step("deploy_vnfs").attempts == 3
    held = mano.get(op.service_id)
    assert held.status == "INSTANTIATING" and used_cores(rt) == base + 2  # nothing undone meanwhile
    svc = mano.retry(op.id)
    assert svc.status == "READY" and len(svc.vnfrs) == 3 and used_cores(rt) == base + 3
    done = mano.operation(op.id)
    assert done.state == OperationState.COMPLETED and done.retries == 1 and done.step("deploy_vnfs").attempts == 4
    svc.terminate()
    assert used_cores(rt) == base


def test_a_held_scale_out_rolled_back_by_the_operator_leaves_the_service_as_it_was(rt):
    svc = mano.instantiate(DEMO)
    base = used_cores(rt)
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "temporary": True, "times": 3})
    with pytest.raises(mano.OperationFailedError, match="FAILED_TEMP") as info:
        svc.scale_out("vnf_iperf")
    assert svc.status == "SCALING"
    with pytest.raises(InstanceBusyError, match="is FAILED_TEMP and waits for the operator"):
        svc.terminate()
    mano.rollback(info.value.operation.id)
    assert mano.operation(info.value.operation.id).state == OperationState.ROLLED_BACK
    assert svc.status == "READY" and len(svc.nsr["network_functions"]) == 3 and used_cores(rt) == base
    with pytest.raises(LifecycleError, match="only a FAILED_TEMP operation can be retried"):
        mano.retry(info.value.operation.id)
    svc.terminate()


def test_an_operator_cancels_a_running_instantiation_and_rolls_it_back(rt):
    """The cancel waits for the step under way (a slow deploy), holds the operation before the
    next, and the rollback undoes what it did; the same cancel of an ended operation is refused."""
    base = used_cores(rt)
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    wait_until(lambda: (step := mano.operation(svc.last_operation).step("deploy_vnfs")) is not None
               and step.state == StepState.RUNNING, timeout=30)
    held = mano.cancel(svc.last_operation, reason="wrong PoP chosen")
    assert held.state == OperationState.FAILED_TEMP
    assert held.step("deploy_vnfs").state == StepState.DONE  # the slow step was let finish
    assert held.error.startswith("cancelled before step ") and held.error.endswith(": wrong PoP chosen")
    assert svc.status == "INSTANTIATING" and used_cores(rt) == base + 3  # nothing undone until the operator says
    mano.rollback(held.id)
    assert mano.operation(held.id).state == OperationState.ROLLED_BACK
    assert svc.status == "FAILED" and used_cores(rt) == base
    with pytest.raises(LifecycleError, match="is ROLLED_BACK: only a PROCESSING operation can be cancelled"):
        mano.cancel(held.id)
    assert rt.store.cancellations.find_one(held.id) is None


def test_bad_requests_get_clear_errors(rt, tmp_path):
    with pytest.raises(UnknownInstanceError, match="no service instance 'does-not-exist'"):
        mano.get("does-not-exist")
    broken = tmp_path / "nsd.yml"
    broken.write_text((DEMO / "sonata-demo-nsd.yml").read_text().replace('vnf_id: "vnf_iperf"', "vnf_id: 7\n    x: ["))
    with pytest.raises(DescriptorError, match="not valid YAML"):
        mano.instantiate(broken)
    # busy: a slow VIM keeps the instantiation running while we try to terminate
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    with pytest.raises(InstanceBusyError, match="Workflow for service still going on, rejected"):
        svc.terminate()
    svc.wait()
    svc.terminate()


def _kill_process_of(name):
    actor = ray.get_actor(name, namespace="mano")
    pid = ray.get(actor.pid.remote())
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["crash", "ray.kill"])
def test_service_actor_killed_mid_operation_resumes(rt, how):
    base = used_cores(rt)
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service has its own actor
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "tcpdump-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    wait_until(lambda: (rt.store.operations.get(svc.last_operation).step("deploy_vnfs") or None)
               and rt.store.operations.get(svc.last_operation).step("deploy_vnfs").state == StepState.RUNNING)
    host = activation(rt, svc.id)
    assert is_host_name("service", host)
    if how == "crash":
        _kill_process_of(host)  # Ray restarts it; __init__ resumes the operation whose lease it held
    else:
        ray.kill(ray.get_actor(host, namespace="mano"), no_restart=True)  # the SLM re-activates the service
    op = svc.wait(timeout=60)
    assert op.state == OperationState.COMPLETED
    assert op.step("validate").attempts == 1 and op.step("place").attempts == 1  # done steps not re-run
    assert op.step("deploy_vnfs").attempts == 2
    assert svc.status == "READY" and len(svc.vnfrs) == 3
    assert used_cores(rt) == base + 3  # no VNF deployed twice
    svc.terminate()
    assert used_cores(rt) == base


def test_idle_instances_passivate_and_come_back(rt):
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service and its VNFs have actors
    svc = mano.instantiate(DEMO)
    name = activation(rt, svc.id)
    vnf_names = {vnf_activation(rt, v.id) for v in svc.record.vnf_instances}
    assert name and None not in vnf_names
    wait_until(lambda: name not in actor_names() and not vnf_names & set(actor_names()), timeout=30)
    assert svc.status == "READY"  # the record answers while the actor is away
    svc.scale_out("vnf_firewall")  # re-activates the service actor from its records
    assert len(svc.vnfrs) == 4
    svc.terminate()


def test_plugins_register_and_obey_commands(rt):
    plugins = {p["name"]: p for p in rt.call("plugin-manager", "list")}
    core = {"slm", "flm", "infrastructure-adaptor", "placement", "placement-executive", "monitoring"}
    assert core <= set(plugins)
    assert all(plugins[name]["state"] == "RUNNING" for name in core)
    slm = plugins["slm"]["id"]
    rt.call("plugin-manager", "command", slm, "pause")
    try:
        with pytest.raises(mano.LifecycleError, match="the SLM is paused"):
            mano.instantiate(DEMO)
    finally:
        rt.call("plugin-manager", "command", slm, "start")
    assert mano.instantiate(DEMO).terminate().status == "TERMINATED"


def test_monitoring_rule_triggers_scale_out_and_records_show_it(rt):
    import yaml
    nsd = yaml.safe_load((DEMO / "sonata-demo-nsd.yml").read_text())
    nsd["auto_scale_policy"] = {"vnf_firewall": {"max_instances": 2}}
    vnfds = [yaml.safe_load((DEMO / f).read_text()) for f in ("firewall-vnfd.yml", "iperf-vnfd.yml", "tcpdump-vnfd.yml")]
    for rule in vnfds[0]["monitoring_rules"]:
        rule["duration"] = 0
    svc = mano.instantiate(nsd, vnfds)
    quiet = {"vm_cpu_perc": 1, "vm_mem_perc": 1, "vm_net_rx_MB": 0, "vm_net_tx_MB": 0}
    for v in svc.record.vnf_instances:
        rt.call("infrastructure-adaptor", "set_load", v.id, quiet if v.vnf_id != "vnf_firewall" else {**quiet, "vm_cpu_perc": 90})
    alerts = rt.call("monitoring", "tick")
    assert [a["vnf_id"] for a in alerts] == ["vnf_firewall"]
    wait_until(lambda: svc.status == "READY" and len(svc.record.vnf_instances) == 4, timeout=60)
    scale = [o for o in svc.operations if o.type.value == "scale_out"]
    assert scale and scale[0].state == OperationState.COMPLETED
    assert scale[0].request["trigger"]["metric"] == "vm_cpu_perc"
    svc.terminate()


def test_a_burst_beyond_the_spares_runs_in_the_slm_and_its_actor_comes_later(rt):
    base = used_cores(rt)
    (spare_ids, _) = wait_until(lambda: full_spare_pools(rt), timeout=60)
    burst = [mano.instantiate(DEMO, wait=False) for _ in range(len(spare_ids) + 1)]
    assert [activation(rt, s.id) for s in burst[:-1]] == list(spare_ids)  # the hosts went first
    assert all(s.wait(timeout=60).state == OperationState.COMPLETED for s in burst)
    last = burst[-1]
    assert activation(rt, last.id) is None  # it ran in the SLM: no process was started for it
    assert last.status == "READY" and len(last.vnfrs) == 3
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # the burst is over
    last.scale_out("vnf_firewall")  # its next request activates its actor
    assert len(last.vnfrs) == 4 and activation(rt, last.id) == f"service:{last.id}"
    for svc in burst:
        svc.terminate()
    assert used_cores(rt) == base


def test_in_a_burst_a_passivated_service_is_served_by_the_slm(rt):
    base = used_cores(rt)
    svc = mano.instantiate(DEMO)
    host = activation(rt, svc.id)
    wait_until(lambda: host not in actor_names(), timeout=30)  # passivated
    (spare_ids, _) = wait_until(lambda: full_spare_pools(rt), timeout=60)
    taking = [mano.instantiate(DEMO, wait=False) for _ in spare_ids]  # a burst takes every spare
    assert svc.terminate(timeout=60).status == "TERMINATED"
    assert activation(rt, svc.id) is None  # no process was started to terminate it
    for other in taking:
        other.wait(timeout=60)
        other.terminate()
    assert used_cores(rt) == base


def test_the_slm_crashing_while_it_runs_an_instantiation_hands_it_to_the_service_actor(rt):
    base = used_cores(rt)
    (spare_ids, _) = wait_until(lambda: full_spare_pools(rt), timeout=60)
    taking = [mano.instantiate(DEMO, wait=False) for _ in spare_ids]  # no spare left for the next one
    # slow the next tcpdump deployments, one per service: those of ``taking`` may come first
    rt.call("infrastructure-adaptor", "inject_fault",
            {"vnf_name": "tcpdump-vnf", "delay_s": 2.0, "fail": False, "times": len(taking) + 1})
    svc = mano.instantiate(DEMO, wait=False)
    assert rt.call("slm", "runs_here", svc.last_operation)
    wait_until(lambda: (rt.store.operations.get(svc.last_operation).step("deploy_vnfs") or None)
               and rt.store.operations.get(svc.last_operation).step("deploy_vnfs").state == StepState.RUNNING)
    ray.kill(ray.get_actor("slm", namespace="mano"), no_restart=False)  # crash: Ray restarts the SLM,
    # whose recovery loop finds the operation without an actor and activates the service actor
    op = svc.wait(timeout=90)
    assert op.state == OperationState.COMPLETED
    assert op.step("validate").attempts == 1 and op.step("place").attempts == 1  # done steps not re-run
    assert op.step("deploy_vnfs").attempts == 2
    assert svc.status == "READY" and len(svc.vnfrs) == 3
    for other in [*taking, svc]:
        other.wait(timeout=60)
        other.terminate()
    assert used_cores(rt) == base  # no VNF deployed twice, none left behind


def test_requests_on_many_passivated_services_start_a_cpu_worth_of_actors_and_run_the_rest_in_the_slm(rt):
    limit = max(1, os.cpu_count() or 1)  # mano.lifecycle.hosting.ServiceLoad.in_burst
    base = used_cores(rt)
    services = [mano.instantiate(DEMO) for _ in range(limit + 1)]
    hosts = {activation(rt, s.id) for s in services}
    wait_until(lambda: not hosts & set(actor_names()), timeout=30)  # passivated
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # spares up: no instantiation burst
    rt.call("infrastructure-adaptor", "inject_fault",
            {"vnf_name": "firewall-vnf", "delay_s": 1.0, "fail": False, "times": len(services)})
    ops = [svc.scale_out("vnf_firewall", wait=False).last_operation for svc in services]
    # Each request came while the actors activated before it were still starting (a process
    # start takes far longer than a request): the first ones got actors, the last ran here.
    assert [rt.call("slm", "runs_here", op) for op in ops] == [False] * limit + [True]
    for svc, op in zip(services, ops):
        assert svc.wait(op, timeout=60).state == OperationState.COMPLETED
        assert len(svc.vnfrs) == 4
    assert activation(rt, services[-1].id) is None
    wait_until(lambda: rt.call("slm", "starting") == [], timeout=30)
    for svc in services:
        svc.terminate()
    assert used_cores(rt) == base
