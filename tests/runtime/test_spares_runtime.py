"""Pre-started hosts on the real runtime: new instances run on processes started ahead, and the
dashboard never shows an instance that does not exist."""
from __future__ import annotations

import contextlib
import threading

import pytest
import ray

import mano
from mano.lifecycle.host_pool import is_host_name
from paths import EXAMPLES

from conftest_runtime import IDLE_S, activation, full_spare_pools as full_pools, vnf_activation, wait_until

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"


def actor_names():
    from actors.runtime import actor_names as names
    return names()


def pids(names):
    """The worker pid of each named actor (waits for it to be up), asked of all at once."""
    refs = [ray.get_actor(name, namespace="mano").pid.remote() for name in names]
    return dict(zip(names, ray.get(refs, timeout=60)))


def instance_actor_names():
    return {name for name in actor_names() if name.partition(":")[0] in ("service", "vnf") and ":" in name}


def test_new_service_and_its_vnfs_run_on_the_hosts_started_before(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    service_hosts, vnf_hosts = full_pools(rt)
    assert all(is_host_name("service", h) for h in service_hosts) and all(is_host_name("vnf", h) for h in vnf_hosts)
    before = pids([*service_hosts, *vnf_hosts])
    named_before = instance_actor_names()

    svc = mano.instantiate(DEMO)
    vnf_ids = [v.id for v in svc.record.vnf_instances]
    assert svc.id not in service_hosts[0]  # ids belong to instances, never to processes
    assert activation(rt, svc.id) == service_hosts[0]  # the oldest host became the service's activation
    assert sorted(vnf_activation(rt, v) for v in vnf_ids) == sorted(vnf_hosts)  # 3 VNFs, 3 hosts
    # ...and the very processes that were started before the request did the work
    used = [vnf_activation(rt, v) for v in vnf_ids] + [activation(rt, svc.id)]
    assert pids(used) == {name: before[name] for name in used}
    # no actor was named after an instance for this: the dashboard shows what exists (an earlier
    # test's instance actor may have passivated meanwhile, so only new names count)
    assert instance_actor_names() - named_before == set()
    # the pools fill up again with new hosts
    service_now, vnf_now = wait_until(lambda: full_pools(rt), timeout=30)
    assert set(service_now).isdisjoint(used) and set(vnf_now).isdisjoint(used)
    svc.terminate()


def test_hosts_given_back_unused_passivate(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    drained = rt.call("flm", "drain_spares")
    assert len(drained) == rt.settings.spare_vnf_actors
    assert set(drained) <= set(actor_names())
    wait_until(lambda: not set(drained) & set(actor_names()), timeout=IDLE_S + 20)


def test_a_restarted_slm_stops_the_hosts_it_can_no_longer_hand_out(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    old = set(rt.call("slm", "spare_ids"))
    pids(old)  # up, so the kill below cannot race their start
    ray.kill(ray.get_actor("slm", namespace="mano"), no_restart=False)  # crash: Ray restarts the SLM
    wait_until(lambda: not old & set(actor_names()), timeout=60)
    new = wait_until(lambda: full_pools(rt), timeout=60)[0]
    assert old.isdisjoint(new)
    svc = mano.instantiate(DEMO)  # the restarted SLM admits on its own hosts
    assert activation(rt, svc.id) in new
    svc.terminate()


@contextlib.contextmanager
def vnf_host_burst(rt, period_s: float = 0.2):
    """A burst of demand for VNF hosts: every host is taken and the demand goes on, so the pool
    stays empty (it refills only once no request has asked for a second)."""
    stop = threading.Event()

    def demand() -> None:
        while not stop.wait(period_s):
            rt.call("flm", "drain_spares")

    rt.call("flm", "drain_spares")
    thread = threading.Thread(target=demand, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_without_hosts_lifecycle_work_runs_in_the_flm_and_heal_activates_the_actor(rt):
    wait_until(lambda: full_pools(rt), timeout=30)
    with vnf_host_burst(rt):  # a burst took every VNF host
        svc = mano.instantiate(DEMO)
    assert svc.status == "READY" and len(svc.vnfrs) == 3
    vnf_ids = [v.id for v in svc.record.vnf_instances]
    assert all(vnf_activation(rt, v) is None for v in vnf_ids)  # deployed without starting a process
    victim = vnf_ids[0]
    rt.call("infrastructure-adaptor", "crash_vnf", victim)
    svc.heal(victim)  # single-VNF work: its own actor is activated from the VNFR
    assert vnf_activation(rt, victim) == f"vnf:{victim}" and f"vnf:{victim}" in actor_names()
    assert rt.call("flm", "status", victim) == "running"
    with vnf_host_burst(rt):  # no host for the next one either
        svc.scale_out("vnf_firewall")  # one VNF, but lifecycle work: it runs in the FLM too
    [added] = {v.id for v in svc.record.vnf_instances} - set(vnf_ids)
    assert vnf_activation(rt, added) is None
    svc.scale_in(vnf_instance_id=added)  # and so do its stop and remove
    assert vnf_activation(rt, added) is None
    assert svc.record.vnf_instance(added).terminated and svc.vnf_states[added] == "TERMINATED"
    svc.terminate()
    assert svc.status == "TERMINATED"
