"""Waiting for an operation on its service actor instead of polling the record."""
from __future__ import annotations

import pytest
import ray

import mano
from actors.runtime import wait_on_service_actor
from paths import EXAMPLES

from conftest_runtime import IDLE_S, full_spare_pools, wait_until

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"


def test_wait_for_answers_none_while_running_then_the_final_state(rt):
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service has its own actor
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    op_id = svc.last_operation
    actor = ray.get_actor(f"service:{svc.id}", namespace="mano")
    assert ray.get(actor.wait_for.remote(op_id, 0.2)) is None  # still deploying: timed out
    assert ray.get(actor.wait_for.remote(op_id, 60)) == "COMPLETED"
    assert rt.store.operations.get(op_id).state.value == "COMPLETED"  # the record said so first
    assert ray.get(actor.wait_for.remote("no-such-operation", 1)) is None
    svc.terminate()


def test_waiters_do_not_starve_the_operation(rt):
    """More waiters than the actor's ``run`` threads: they have their own concurrency group."""
    wait_until(lambda: full_spare_pools(rt), timeout=60)  # so that the service has its own actor
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 1.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    actor = ray.get_actor(f"service:{svc.id}", namespace="mano")
    waiters = [actor.wait_for.remote(svc.last_operation, 60) for _ in range(20)]
    assert set(ray.get(waiters, timeout=90)) == {"COMPLETED"}
    svc.terminate()


def test_without_an_active_actor_the_caller_falls_back_to_the_record(rt):
    svc = mano.instantiate(DEMO)
    wait_until(lambda: f"service:{svc.id}" not in {a["name"] for a in ray.util.list_named_actors(True)},
               timeout=IDLE_S + 20)  # passivated
    assert wait_on_service_actor(svc.id, svc.last_operation, 5) is False  # nothing was activated for it
    assert f"service:{svc.id}" not in {a["name"] for a in ray.util.list_named_actors(True)}
    assert rt.wait(svc.last_operation).state.value == "COMPLETED"
    svc.terminate()
