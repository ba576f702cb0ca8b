"""The hosting decision (mano/lifecycle/hosting.py): where an instance's work runs, without Ray."""
from __future__ import annotations

import pytest

from mano.lifecycle.hosting import Host, ServiceLoad, host_service_operation, host_vnf_call

CALM = ServiceLoad(spares_ready=2, actors_starting=0, cpus=2)
YES, NO = (lambda: True), (lambda: False)


def unasked():
    raise AssertionError("observed although the load had decided")


@pytest.mark.parametrize("load, in_burst", [
    (CALM, False),
    (ServiceLoad(spares_ready=0, actors_starting=0, cpus=2), True),   # no warm spare left
    (ServiceLoad(spares_ready=2, actors_starting=1, cpus=2), False),
    (ServiceLoad(spares_ready=2, actors_starting=2, cpus=2), True),   # a CPU's worth starting
    (ServiceLoad(spares_ready=2, actors_starting=1, cpus=0), True),   # unknown CPU count: one
])
def test_a_burst_is_no_spare_left_or_a_cpus_worth_of_actors_starting(load, in_burst):
    assert load.in_burst is in_burst


def test_a_service_whose_actor_is_up_runs_there_whatever_the_load():
    burst = ServiceLoad(spares_ready=0, actors_starting=5, cpus=2)
    assert host_service_operation(has_actor=YES, new_operation=YES, load=burst) is Host.ACTOR


def test_without_a_burst_the_actor_is_activated_without_looking_further():
    assert host_service_operation(has_actor=NO, new_operation=YES, load=CALM) is Host.ACTOR
    assert host_service_operation(has_actor=unasked, new_operation=unasked, load=CALM) is Host.ACTOR
    burst = ServiceLoad(spares_ready=0, actors_starting=0, cpus=2)
    assert host_service_operation(has_actor=unasked, new_operation=unasked, load=burst,
                                  manager_may_host=False) is Host.ACTOR


def test_in_a_burst_a_service_without_actor_runs_in_the_manager():
    burst = ServiceLoad(spares_ready=0, actors_starting=0, cpus=2)
    assert host_service_operation(has_actor=NO, new_operation=YES, load=burst) is Host.MANAGER


def test_a_retried_operation_goes_to_the_actor_which_resumes_it():
    burst = ServiceLoad(spares_ready=0, actors_starting=0, cpus=2)
    assert host_service_operation(has_actor=NO, new_operation=NO, load=burst) is Host.ACTOR


def test_the_manager_hosts_nothing_when_the_setting_forbids_it():
    burst = ServiceLoad(spares_ready=0, actors_starting=9, cpus=2)
    assert host_service_operation(has_actor=NO, new_operation=YES, load=burst,
                                  manager_may_host=False) is Host.ACTOR


@pytest.mark.parametrize("has_actor, needs_actor, host", [
    (True, False, Host.ACTOR),
    (False, False, Host.MANAGER),    # batch work starts no process
    (False, True, Host.ACTOR),   # heal works on the VNF's own state: activate it
    (True, True, Host.ACTOR),
])
def test_vnf_calls_run_on_a_live_actor_or_in_the_flm(has_actor, needs_actor, host):
    assert host_vnf_call(has_actor=has_actor, needs_actor=needs_actor) is host
