"""The SLM's dispatch (mano/lifecycle/dispatch.py) without Ray: what it runs itself, what it
sends to service actors, and what its recovery pass re-activates."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mano.errors import LeaseHeldError, ManoError
from mano.lifecycle.dispatch import ServiceDispatch
from mano.lifecycle.hosting import Host
from mano.lifecycle.states import OperationState, OperationType
from mano.records import OperationRecord


def operation(op_id="op-1", service_id="s-1", state=OperationState.PROCESSING):
    op = OperationRecord(id=op_id, type=OperationType.INSTANTIATE, service_id=service_id)
    return op if state == OperationState.PROCESSING else op.with_state(state)


class Actors:
    """Service actors as the SLM shell would activate them: records what was told to run."""

    def __init__(self):
        self.told: list[str] = []
        self.pending_up: dict[str, object] = {}

    def activate(self, op, on_up):
        self.told.append(op.id)
        if on_up is not None:
            self.pending_up[op.service_id] = on_up

    def come_up(self, service_id):
        self.pending_up.pop(service_id)()


class Here:
    def __init__(self, block=False, error=None):
        self.ran: list[str] = []
        self.go = threading.Event()
        self.block, self.error = block, error
        if not block:
            self.go.set()

    def __call__(self, op):
        self.ran.append(op.id)
        assert self.go.wait(10)
        if self.error:
            raise self.error


def dispatch(actors=None, here=None, cpus=2, **kwargs):
    return ServiceDispatch(activate=(actors or Actors()).activate, run_here=here or Here(),
                           pool=ThreadPoolExecutor(4), cpus=cpus, **kwargs)


def test_outside_a_burst_the_operation_goes_to_the_service_actor():
    actors = Actors()
    d = dispatch(actors)
    host = d.host(has_actor=lambda: False, new_operation=lambda: True, spares_ready=2)
    assert host is Host.ACTOR
    d.admit(lambda op_id: operation(), None, host)
    assert actors.told == ["op-1"] and d.starting() == ["s-1"] and not d.runs_here("op-1")
    actors.come_up("s-1")
    assert d.starting() == []


def test_a_cpus_worth_of_actors_starting_makes_a_burst_and_the_next_runs_here():
    actors, here = Actors(), Here(block=True)
    ended = threading.Event()
    d = dispatch(actors, here, cpus=2, on_ended=ended.set)
    for i in range(2):
        d.admit(lambda op_id, i=i: operation(f"op-{i}", f"s-{i}"), None, Host.ACTOR)
    host = d.host(has_actor=lambda: False, new_operation=lambda: True, spares_ready=2)
    assert host is Host.MANAGER
    op = d.admit(lambda op_id: operation(op_id, "s-3"), "op-3", host)
    assert d.runs_here(op.id) and actors.told == ["op-0", "op-1"]
    here.go.set()
    assert ended.wait(10)
    for _ in range(100):
        if not d.runs_here(op.id):
            break
        threading.Event().wait(0.02)
    assert here.ran == ["op-3"] and not d.runs_here(op.id)


def test_an_operation_to_run_here_counts_as_run_here_before_admission_records_it():
    d = dispatch()
    seen = []

    def admit(op_id):
        seen.append(d.runs_here(op_id))  # what the recovery loop would see meanwhile
        return operation(op_id)
    d.admit(admit, "op-1", Host.MANAGER)
    assert seen == [True]


def test_a_refused_admission_leaves_nothing_marked():
    d = dispatch()

    def refuse(op_id):
        raise ManoError("Workflow for service still going on, rejected")
    with pytest.raises(ManoError):
        d.admit(refuse, "op-1", Host.MANAGER)
    assert not d.runs_here("op-1")


def test_a_twin_request_run_here_is_not_run_twice():
    here = Here(block=True)
    d = dispatch(here=here)
    d.admit(lambda op_id: operation(op_id), "op-1", Host.MANAGER)
    d.admit(lambda op_id: operation(op_id), "op-1", Host.MANAGER)
    here.go.set()
    threading.Event().wait(0.2)
    assert here.ran == ["op-1"]


@pytest.mark.parametrize("error", [LeaseHeldError("service:s-1 is run by actor:x"), RuntimeError("store away")])
def test_an_operation_run_here_that_stops_is_left_to_the_recovery_loop(error):
    ended = threading.Event()
    d = dispatch(here=Here(error=error), on_ended=ended.set)
    d.admit(lambda op_id: operation(op_id), "op-1", Host.MANAGER)
    assert ended.wait(10) and not d.runs_here("op-1")


def test_a_final_operation_is_not_run_anywhere():
    actors, here = Actors(), Here()
    d = dispatch(actors, here)
    d.admit(lambda op_id: operation(op_id, state=OperationState.COMPLETED), "op-1", Host.MANAGER)
    d.admit(lambda op_id: operation("op-2", state=OperationState.COMPLETED), None, Host.ACTOR)
    threading.Event().wait(0.1)
    assert actors.told == [] and here.ran == []


def test_recovery_revives_only_orphans():
    actors, here = Actors(), Here(block=True)
    d = dispatch(actors, here)
    d.admit(lambda op_id: operation(op_id, "s-here"), "op-here", Host.MANAGER)
    listed = [operation("op-here", "s-here"), operation("op-actor", "s-actor"), operation("op-ended", "s-ended"),
              operation("op-leased", "s-leased"), operation("op-orphan", "s-orphan")]
    current = {op.id: op for op in listed} | {"op-ended": operation("op-ended", "s-ended", OperationState.COMPLETED)}
    revived = d.recover(listed, has_actor=lambda sid: sid == "s-actor", lease_active=lambda sid: sid == "s-leased",
                        read=current.get)
    here.go.set()
    assert revived == 1 and actors.told == ["op-orphan"]


def test_operations_sent_to_a_host_are_answered_for_until_they_end_and_revived_only_without_it():
    ended = threading.Event()
    actors = Actors()
    d = dispatch(actors, on_ended=ended.set)
    d.sent_to_host("op-host")
    assert d.answers_for("op-host") and not d.runs_here("op-host")
    # the host is alive and runs it (no lease taken yet): not revived
    revived = d.recover([operation("op-host", "s-host")], has_actor=lambda sid: sid == "s-host",
                        lease_active=lambda sid: False, read=lambda op_id: operation(op_id, "s-host"))
    assert revived == 0 and actors.told == []
    # the host is gone with the operation unfinished, its lease free: the service's actor resumes it
    revived = d.recover([operation("op-host", "s-host")], has_actor=lambda sid: False,
                        lease_active=lambda sid: False, read=lambda op_id: operation(op_id, "s-host"))
    assert revived == 1 and actors.told == ["op-host"]
    d.host_run_ended("op-host")
    assert ended.is_set() and not d.answers_for("op-host")
