"""The wait protocol without Ray: RunEnded on the actor side, wait_for_operation on the caller's."""
from __future__ import annotations

import threading
import time

from mano.lifecycle import waiting
from mano.errors import ManoError
from mano.lifecycle.states import OperationState, OperationType
from mano.records import OperationRecord


def _op(state=OperationState.PROCESSING):
    op = OperationRecord(id="op-1", service_id="svc-1", type=OperationType.INSTANTIATE)
    return op if state == OperationState.PROCESSING else op.with_state(state)


def test_a_final_record_is_answered_at_once():
    assert waiting.RunEnded().wait(lambda: _op(OperationState.COMPLETED), 10) == "COMPLETED"


def test_an_unknown_operation_and_one_run_elsewhere_have_their_own_answers():
    ended = waiting.RunEnded()
    assert ended.wait(lambda: None, 10) == waiting.UNKNOWN
    assert ended.wait(_op, 10, runs_it=lambda: False) == waiting.ELSEWHERE
    assert ended.wait(_op, 0.05) == waiting.TIMEOUT


def test_a_waiter_wakes_when_the_run_ends_not_at_its_next_recheck():
    ended, record = waiting.RunEnded(), {"op": _op()}
    reads = []

    def read():
        reads.append(time.monotonic())
        return record["op"]

    def finish():
        time.sleep(0.2)
        record["op"] = _op(OperationState.COMPLETED)
        ended.notify()
    threading.Thread(target=finish).start()
    started = time.monotonic()
    assert ended.wait(read, 30) == "COMPLETED"
    assert time.monotonic() - started < waiting.RECHECK_S  # woken by the end, not by the recheck
    assert len(reads) == 2  # one read before, one after: no polling


def test_a_run_ending_between_the_read_and_the_wait_is_not_missed():
    ended = waiting.RunEnded()
    state = {"n": 0}

    def read():  # the run ends right after the first read, before the waiter blocks
        state["n"] += 1
        if state["n"] == 1:
            ended.notify()
            return _op()
        return _op(OperationState.FAILED)
    started = time.monotonic()
    assert ended.wait(read, 30) == "FAILED"
    assert time.monotonic() - started < waiting.RECHECK_S / 2


class _Actor:
    def __init__(self, *answers):
        self.answers, self.asked = list(answers), 0

    def wait_for(self, operation_id, step):
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _ask(actor, method, *args, **_):
    """calls.ask without Ray: the method of a plain object."""
    return getattr(actor, method)(*args)


def test_the_caller_asks_the_next_actor_when_one_cannot_tell():
    service, slm = _Actor(waiting.ELSEWHERE), _Actor(waiting.TIMEOUT, "COMPLETED")
    assert waiting.wait_for_operation(iter([service, slm]), "op-1", 60, ask=_ask) is True
    assert (service.asked, slm.asked) == (1, 2)


def test_the_caller_gives_up_to_polling_when_no_actor_can_tell():
    gone, slm = _Actor(ManoError("actor unavailable")), _Actor(waiting.ELSEWHERE)
    assert waiting.wait_for_operation(iter([gone, slm]), "op-1", 60, ask=_ask) is False
    assert waiting.wait_for_operation(iter([_Actor(waiting.UNKNOWN)]), "op-1", 60, ask=_ask) is False
    assert waiting.wait_for_operation(iter([]), "op-1", 60, ask=_ask) is False


def test_later_actors_are_not_looked_up_once_one_answered():
    looked_up = []

    def waiters():
        for name, actor in (("service", _Actor("COMPLETED")), ("slm", _Actor("COMPLETED"))):
            looked_up.append(name)
            yield actor
    assert waiting.wait_for_operation(waiters(), "op-1", 60, ask=_ask) is True
    assert looked_up == ["service"]
