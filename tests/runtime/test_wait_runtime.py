"""Waiting for an operation on the actor that runs it instead of polling the record."""
from __future__ import annotations

import pytest
import ray

import mano
from mano.lifecycle import waiting
from actors.runtime import wait_on_operation
from paths import EXAMPLES

from conftest_runtime import IDLE_S, activation, full_spare_pools, wait_until

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"


def test_wait_for_answers_timeout_while_running_then_the_final_state(rt):
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service has its own actor
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    op_id = svc.last_operation
    actor = ray.get_actor(activation(rt, svc.id), namespace="mano")
    assert ray.get(actor.wait_for.remote(op_id, 0.2)) == waiting.TIMEOUT  # still deploying
    assert ray.get(actor.wait_for.remote(op_id, 60)) == "COMPLETED"
    assert rt.store.operations.get(op_id).state.value == "COMPLETED"  # the record said so first
    assert ray.get(actor.wait_for.remote("no-such-operation", 1)) == waiting.UNKNOWN
    svc.terminate()


def test_waiters_do_not_starve_the_operation(rt):
    """More waiters than the actor's ``run`` threads: they have their own concurrency group."""
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service has its own actor
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 1.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    actor = ray.get_actor(activation(rt, svc.id), namespace="mano")
    waiters = [actor.wait_for.remote(svc.last_operation, 60) for _ in range(20)]
    assert set(ray.get(waiters, timeout=90)) == {"COMPLETED"}
    svc.terminate()


def test_without_an_active_actor_the_slm_answers_from_the_record(rt):
    svc = mano.instantiate(DEMO)
    host = activation(rt, svc.id)
    wait_until(lambda: host not in {a["name"] for a in ray.util.list_named_actors(True)},
               timeout=IDLE_S + 20)  # passivated
    assert wait_on_operation(svc.id, svc.last_operation, 5) is True  # nothing was activated for it
    assert activation(rt, svc.id) is None
    assert rt.wait(svc.last_operation).state.value == "COMPLETED"
    # its next operation activates its own actor, which answers waiters; the SLM sends them there
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # no burst: the SLM does not run it itself
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "firewall-vnf", "delay_s": 2.0, "fail": False})
    scaling = svc.scale_out("vnf_firewall", wait=False).last_operation
    slm = ray.get_actor("slm", namespace="mano")
    assert ray.get(slm.wait_for.remote(scaling, 5)) == waiting.ELSEWHERE
    assert activation(rt, svc.id) == f"service:{svc.id}"
    assert wait_on_operation(svc.id, scaling, 60) is True
    svc.terminate()


def test_the_slm_answers_for_what_it_runs_and_sends_callers_elsewhere_for_the_rest(rt):
    (spare_ids, _) = wait_until(lambda: full_spare_pools(rt), timeout=60)
    rt.call("infrastructure-adaptor", "inject_fault",
            {"vnf_name": "iperf-vnf", "delay_s": 3.0, "fail": False, "times": len(spare_ids) + 1})
    on_hosts = [mano.instantiate(DEMO, wait=False) for _ in spare_ids]
    in_slm = mano.instantiate(DEMO, wait=False)  # no host left: a burst, run in the SLM
    assert rt.call("slm", "runs_here", in_slm.last_operation)
    slm = ray.get_actor("slm", namespace="mano")
    assert ray.get(slm.wait_for.remote(in_slm.last_operation, 0.1)) == waiting.TIMEOUT
    # sent to a pre-started host, which no caller can find by the service's name: the SLM answers
    assert ray.get(slm.wait_for.remote(on_hosts[0].last_operation, 0.1)) == waiting.TIMEOUT
    assert ray.get(slm.wait_for.remote(in_slm.last_operation, 60)) == "COMPLETED"
    assert ray.get(slm.wait_for.remote(on_hosts[0].last_operation, 60)) == "COMPLETED"
    assert ray.get(slm.wait_for.remote("no-such-operation", 1)) == waiting.UNKNOWN
    for svc in [*on_hosts, in_slm]:
        assert svc.wait(timeout=60).state.value == "COMPLETED"
        svc.terminate()
