"""Warm spare actors on the real runtime: new instances run on processes started ahead."""
from __future__ import annotations

import contextlib
import threading

import pytest
import ray

import mano
from paths import EXAMPLES

from conftest_runtime import IDLE_S, full_spare_pools as full_pools, wait_until

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"


def actor_names():
    from actors.runtime import actor_names as names
    return names()


def pids(kind, ids):
    """The worker pid of each instance actor (waits for it to be up), asked of all at once."""
    refs = [ray.get_actor(f"{kind}:{i}", namespace="mano").pid.remote() for i in ids]
    return dict(zip(ids, ray.get(refs, timeout=60)))


def test_new_service_and_its_vnfs_run_on_the_spares_started_before(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    service_spares, vnf_spares = full_pools(rt)
    before = pids("service", service_spares) | pids("vnf", vnf_spares)

    svc = mano.instantiate(DEMO)
    vnf_ids = [v.id for v in svc.record.vnf_instances]
    assert svc.id == service_spares[0]  # the oldest spare's id became the service's
    assert sorted(vnf_ids) == sorted(vnf_spares)  # 3 VNFs, 3 spares
    # ...and the very processes that were started before the request did the work
    after = pids("vnf", vnf_ids) | pids("service", [svc.id])  # VNFs first: their last work was earlier
    assert after == {i: before[i] for i in [*vnf_ids, svc.id]}
    # the pools fill up again with fresh ids
    service_now, vnf_now = wait_until(lambda: full_pools(rt), timeout=30)
    assert set(service_now).isdisjoint([svc.id]) and set(vnf_now).isdisjoint(vnf_ids)
    svc.terminate()


def test_a_handed_out_id_that_is_never_used_does_not_leak_its_actor(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    (unused,) = rt.call("flm", "new_instance_ids", 1)
    assert f"vnf:{unused}" in actor_names()
    # claimed by the FLM a step's time after it was handed out without its deploy coming, then passivated
    wait_until(lambda: f"vnf:{unused}" not in actor_names(), timeout=rt.settings.step_timeout_s + IDLE_S + 20)


def test_a_restarted_slm_stops_the_spares_it_can_no_longer_hand_out(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    old = set(rt.call("slm", "spare_ids"))
    pids("service", old)  # up, so the kill below cannot race their start
    ray.kill(ray.get_actor("slm", namespace="mano"), no_restart=False)  # crash: Ray restarts the SLM
    wait_until(lambda: not {f"service:{i}" for i in old} & set(actor_names()), timeout=60)
    new = wait_until(lambda: full_pools(rt), timeout=60)[0]
    assert old.isdisjoint(new)
    svc = mano.instantiate(DEMO)  # the restarted SLM admits on its own spares
    assert svc.id in new
    svc.terminate()


@contextlib.contextmanager
def vnf_spare_burst(rt, period_s: float = 0.2):
    """A burst of VNF spare demand: every spare is taken and requests keep coming, so the pool
    stays empty (it refills only once no request has asked for a second)."""
    stop = threading.Event()

    def demand() -> None:
        while not stop.wait(period_s):
            rt.call("flm", "new_instance_ids", 1)

    rt.call("flm", "new_instance_ids", rt.settings.spare_vnf_actors)
    thread = threading.Thread(target=demand, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_without_spares_lifecycle_work_runs_in_the_flm_and_heal_activates_the_actor(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    with vnf_spare_burst(rt):  # a burst took every VNF spare
        svc = mano.instantiate(DEMO)
    assert svc.status == "READY" and len(svc.vnfrs) == 3
    vnf_ids = [v.id for v in svc.record.vnf_instances]
    assert not {f"vnf:{v}" for v in vnf_ids} & set(actor_names())  # deployed without starting a process
    victim = vnf_ids[0]
    rt.call("infrastructure-adaptor", "crash_vnf", victim)
    svc.heal(victim)  # single-VNF work: its actor is activated from the VNFR
    assert f"vnf:{victim}" in actor_names()
    assert rt.call("flm", "status", victim) == "running"
    with vnf_spare_burst(rt):  # no spare for the next one either
        svc.scale_out("vnf_firewall")  # one VNF, but lifecycle work: it runs in the FLM too
    [added] = {v.id for v in svc.record.vnf_instances} - set(vnf_ids)
    assert f"vnf:{added}" not in actor_names()
    svc.scale_in(vnf_instance_id=added)  # and so do its stop and remove
    assert f"vnf:{added}" not in actor_names()
    assert svc.record.vnf_instance(added).terminated and svc.vnf_states[added] == "TERMINATED"
    svc.terminate()
    assert svc.status == "TERMINATED"
