"""The FLM's core without Ray: where each VNF call of a batch runs, and how a batch fails."""
from __future__ import annotations

import pytest

from mano.errors import StepFailedError
from mano.lifecycle.functions import FunctionLifecycle
from mano.lifecycle.lease import Holder, InstanceLeases
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.states import VnfState


def deployment(demo, vnf_instance_id: str, pop: str = "pop-0") -> FunctionDeployment:
    vnfd = next(iter(demo.vnfds.values()))
    return FunctionDeployment(service_id="s-1", vnf_id="vnf_firewall", vnf_instance_id=vnf_instance_id,
                              vnfd=vnfd.model_dump(mode="json", by_alias=True, exclude_none=True),
                              vim="emulated", pop=pop, networks={})


class Actors:
    """Stands in for the FLM shell's VNF actors: records what it was asked, answers for each."""

    def __init__(self, live: set[str], fail: set[str] = frozenset()):
        self.live, self.fail, self.asked = live, fail, []

    def has_actor(self, vnf_instance_id: str) -> bool:
        return vnf_instance_id in self.live

    def on_actors(self, method, items):
        self.asked += [(method, item.vnf_instance_id) for item in items]
        return [(None, StepFailedError(f"{item.vnf_instance_id} broke", [])) if item.vnf_instance_id in self.fail
                else ({"on": "actor"}, None) for item in items]


def core(store, harness, actors: Actors | None = None, threads: int = 1) -> FunctionLifecycle:
    leases = InstanceLeases(store.leases, Holder.this_process())
    if actors is None:
        return FunctionLifecycle(store, harness.vim, leases, threads=threads)
    return FunctionLifecycle(store, harness.vim, leases, threads=threads, has_actor=actors.has_actor,
                             on_actors=actors.on_actors)


@pytest.mark.parametrize("threads", [1, 4])
def test_vnfs_with_a_live_actor_are_called_there_and_the_others_run_here(store, harness, demo, threads):
    actors = Actors(live={"v-1"})
    functions = core(store, harness, actors, threads)
    results = functions.deploy([deployment(demo, "v-1"), deployment(demo, "v-2")])
    assert actors.asked == [("deploy", "v-1")]
    assert results[0] == {"on": "actor"}
    assert store.vnfr.get("v-2").vnf_state == VnfState.DEPLOYED and store.vnfr.find_one("v-1") is None


def test_heal_goes_to_the_vnfs_actor_even_when_none_is_up():
    actors = Actors(live=set())
    functions = FunctionLifecycle(None, None, None, has_actor=actors.has_actor, on_actors=actors.on_actors)
    assert functions.heal(FunctionAction("s-1", "v-9")) == {"on": "actor"}
    assert actors.asked == [("heal", "v-9")]


def test_a_batch_runs_every_call_then_fails_once_naming_every_failure(store, harness, demo):
    actors = Actors(live={"v-1"}, fail={"v-1"})
    functions = core(store, harness, actors)
    bad_pop = deployment(demo, "v-3", pop="pop-nowhere")
    with pytest.raises(StepFailedError) as failed:
        functions.deploy([deployment(demo, "v-1"), deployment(demo, "v-2"), bad_pop])
    assert "deploy failed for 2 of 3" in str(failed.value)
    assert "vnf_firewall (v-1): v-1 broke" in str(failed.value) and "vnf_firewall (v-3)" in str(failed.value)
    assert store.vnfr.get("v-2").vnf_state == VnfState.DEPLOYED  # the one that could went through


def test_in_process_everything_runs_here(store, harness, demo):
    functions = core(store, harness)
    functions.deploy([deployment(demo, "v-1")])
    functions.start([FunctionAction("s-1", "v-1")])
    assert store.vnfr.get("v-1").vnf_state == VnfState.RUNNING
    assert functions.status("v-1") == "running"
    assert len(set(functions.new_instance_ids(3))) == 3
