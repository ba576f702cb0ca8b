"""The step runner: persistence before announcement, resume without re-running, rollback."""
from __future__ import annotations

import pytest

from mano.errors import TemporaryVimError, VimError
from mano.lifecycle.states import OperationState, OperationType, StepState
from mano.lifecycle.workflow import RetryPolicy, Step, WorkflowRunner
from mano.records import OperationRecord


class Crash(BaseException):
    """Stands for the process dying mid-step: not an Exception, so nothing catches it."""


class Recorder:
    def __init__(self):
        self.saved: list[OperationRecord] = []
        self.calls: list[str] = []

    def save(self, op):
        self.saved.append(op)
        return op

    def step(self, name, fail=None, result=None):
        def run(ctx):
            self.calls.append(name)
            if fail:
                raise fail
            return result or {name: True}
        return run

    def undo(self, name):
        return lambda ctx: self.calls.append(f"undo {name}")


def new_op():
    return OperationRecord(id="op-1", type=OperationType.INSTANTIATE, service_id="svc-1")


def test_every_transition_is_persisted_before_the_next_step_acts():
    r = Recorder()
    seen_when_b_ran = []
    def b(ctx):
        seen_when_b_ran.append(r.saved[-1])
        return {}
    op = WorkflowRunner(r.save).run(new_op(), [Step("a", r.step("a")), Step("b", b)])
    assert op.state == OperationState.COMPLETED
    # One write per step boundary: a step's DONE goes with the next step's RUNNING.
    states = [(s.step("a").state, s.step("b").state, s.state) for s in r.saved]
    assert states == [(StepState.RUNNING, StepState.PENDING, OperationState.PROCESSING),
                      (StepState.DONE, StepState.RUNNING, OperationState.PROCESSING),
                      (StepState.DONE, StepState.DONE, OperationState.COMPLETED)]
    [stored] = seen_when_b_ran  # what the store held when b acted: a done, with its result
    assert stored.step("a").state == StepState.DONE and stored.step("a").result == {"a": True}
    assert stored.step("b").state == StepState.RUNNING
    assert op.step("a").result == {"a": True}


def test_a_plan_that_fails_after_a_step_keeps_that_step_done():
    r = Recorder()
    def plan(op):
        if op.step("a") is not None and op.step("a").state == StepState.DONE:
            raise RuntimeError("the task SSM's schedule is broken")
        return [Step("a", r.step("a")), Step("b", r.step("b"))]
    with pytest.raises(RuntimeError):
        WorkflowRunner(r.save).run(new_op(), plan)
    assert r.saved[-1].step("a").state == StepState.DONE and r.calls == ["a"]


def test_resume_after_a_crash_skips_done_steps():
    r = Recorder()
    steps = [Step("a", r.step("a")), Step("b", r.step("b", fail=Crash())), Step("c", r.step("c"))]
    with pytest.raises(Crash):
        WorkflowRunner(r.save).run(new_op(), steps)
    persisted = r.saved[-1]  # what the store holds when the process died
    assert persisted.step("b").state == StepState.RUNNING
    r.calls.clear()
    steps[1] = Step("b", r.step("b"))
    op = WorkflowRunner(r.save).run(persisted, steps)
    assert op.state == OperationState.COMPLETED
    assert r.calls == ["b", "c"]  # a was not re-run
    assert op.step("b").attempts == 2


def test_permanent_failure_rolls_back_done_steps_in_reverse():
    r = Recorder()
    steps = [Step("a", r.step("a"), r.undo("a")), Step("b", r.step("b"), r.undo("b")),
             Step("c", r.step("c", fail=VimError("boom")), r.undo("c")), Step("d", r.step("d"))]
    finals = []
    op = WorkflowRunner(r.save).run(new_op(), steps, finalize=finals.append)
    assert op.state == OperationState.ROLLED_BACK
    assert r.calls == ["a", "b", "c", "undo c", "undo b", "undo a"]
    assert op.error == "step c failed: boom"
    assert [op.step(n).state for n in "abcd"] == [StepState.ROLLED_BACK, StepState.ROLLED_BACK,
                                                  StepState.FAILED, StepState.PENDING]
    assert finals[0].state == OperationState.ROLLED_BACK and r.saved[-1].state == OperationState.ROLLED_BACK


def test_failed_rollback_ends_failed_with_both_errors():
    r = Recorder()
    def bad_undo(ctx):
        raise VimError("cannot delete")
    steps = [Step("a", r.step("a"), bad_undo), Step("b", r.step("b", fail=VimError("boom")))]
    op = WorkflowRunner(r.save).run(new_op(), steps)
    assert op.state == OperationState.FAILED
    assert "boom" in op.error and "rollback of a failed: cannot delete" in op.error


def test_retryable_errors_are_retried_up_to_the_policy():
    r = Recorder()
    attempts = []
    def flaky(ctx):
        attempts.append(1)
        if len(attempts) < 3:
            raise TemporaryVimError("busy")
        return {}
    op = WorkflowRunner(r.save, retry=RetryPolicy(max_attempts=3), sleep=lambda s: None).run(new_op(), [Step("a", flaky)])
    assert op.state == OperationState.COMPLETED and op.step("a").attempts == 3


def test_a_step_still_failing_temporarily_after_its_retries_holds_the_operation_failed_temp():
    r = Recorder()
    attempts = []
    def flaky(ctx):
        attempts.append(1)
        if len(attempts) < 4:
            raise TemporaryVimError("VIM busy")
        return {"b": "done"}
    finals = []
    steps = [Step("a", r.step("a"), r.undo("a")), Step("b", flaky, r.undo("b")), Step("c", r.step("c"))]
    runner = WorkflowRunner(r.save, retry=RetryPolicy(max_attempts=2), sleep=lambda s: None)
    op = runner.run(new_op(), steps, finalize=finals.append)
    # Nothing undone, nothing announced final: the operator decides.
    assert op.state == OperationState.FAILED_TEMP and r.saved[-1].state == OperationState.FAILED_TEMP
    assert "step b failed temporarily: VIM busy" in op.error
    assert op.step("a").state == StepState.DONE and op.step("b").state == StepState.FAILED
    assert op.step("b").attempts == 2 and op.step("c").state == StepState.PENDING
    assert r.calls == ["a"] and finals == []
    # Run again as it is (a restarted host resuming it): it stays held, nothing runs.
    assert runner.run(op, steps, finalize=finals.append) == op and len(attempts) == 2
    # The operator's retry: PROCESSING again, one more round of attempts at step b, then c.
    retried = op.with_state(OperationState.PROCESSING).model_copy(update={"error": None, "retries": 1})
    op = runner.run(retried, steps, finalize=finals.append)
    assert op.state == OperationState.COMPLETED and op.step("b").attempts == 4
    assert r.calls == ["a", "c"] and [f.state for f in finals] == [OperationState.COMPLETED]


def test_an_operator_rollback_of_a_held_operation_undoes_what_was_done():
    r = Recorder()
    steps = [Step("a", r.step("a"), r.undo("a")), Step("b", r.step("b", fail=TemporaryVimError("down")), r.undo("b"))]
    runner = WorkflowRunner(r.save, retry=RetryPolicy(max_attempts=2), sleep=lambda s: None)
    held = runner.run(new_op(), steps)
    assert held.state == OperationState.FAILED_TEMP
    finals = []
    op = runner.run(held.with_state(OperationState.ROLLING_BACK), steps, finalize=finals.append)
    assert op.state == OperationState.ROLLED_BACK and "step b failed temporarily: down" in op.error
    # b's rollback copes with a half-done step; only a is marked rolled back (b never finished)
    assert r.calls == ["a", "b", "b", "undo b", "undo a"]
    assert op.step("a").state == StepState.ROLLED_BACK and op.step("b").state == StepState.FAILED
    assert [f.state for f in finals] == [OperationState.ROLLED_BACK]


def test_a_permanent_error_after_temporary_ones_rolls_back_at_once():
    r = Recorder()
    errors = iter([TemporaryVimError("busy"), VimError("no such image")])
    def step(ctx):
        raise next(errors)
    op = WorkflowRunner(r.save, retry=RetryPolicy(max_attempts=5), sleep=lambda s: None).run(new_op(), [Step("a", step)])
    assert op.state == OperationState.ROLLED_BACK and op.step("a").attempts == 2 and "no such image" in op.error


def test_unexpected_exceptions_are_described_not_raised():
    r = Recorder()
    op = WorkflowRunner(r.save).run(new_op(), [Step("a", r.step("a", fail=KeyError("x")))])
    assert op.state == OperationState.ROLLED_BACK and "KeyError" in op.error


def test_a_typed_step_result_is_stored_as_json_and_read_back_typed_by_a_later_step():
    from mano.lifecycle.step_results import Placed, PlacedInstance, VnfsStarted
    seen = []
    steps = [Step("place", lambda ctx: Placed(instances=(PlacedInstance(id="v-1", vnf_id="vnf_a", pop="p-1"),),
                                             placement={"solver": "fast"})),
             Step("start_vnfs", lambda ctx: seen.append(ctx.result("place", Placed)) or VnfsStarted(started=("v-1",)))]
    op = WorkflowRunner(save=lambda o: o, sleep=lambda s: None).run(
        OperationRecord(id="op-1", type=OperationType.INSTANTIATE, service_id="s-1"), steps)
    assert op.step("place").result == {"instances": [{"id": "v-1", "vnf_id": "vnf_a", "pop": "p-1"}],
                                       "placement": {"solver": "fast"}}  # JSON, no empty fields
    assert op.step("start_vnfs").result == {"started": ["v-1"]}
    assert seen == [Placed(instances=(PlacedInstance(id="v-1", vnf_id="vnf_a", pop="p-1"),),
                           placement={"solver": "fast"})]


def test_cancel_requests_are_read_at_most_once_per_check_interval_and_not_before_the_first():
    """The cancel question is a store read: a run asks it at step boundaries only once
    ``cancel_check_s`` has passed since it started or last asked, so a quick operation asks none."""
    r = Recorder()
    now = [0.0]
    asked: list[float] = []

    def cancelled(operation_id):
        asked.append(now[0])
        return "stop" if now[0] >= 2.5 else None

    def slow(name, seconds):
        def run(ctx):
            r.calls.append(name)
            now[0] += seconds
            return {}
        return run

    runner = WorkflowRunner(r.save, cancelled=cancelled, cancel_check_s=1.0, clock=lambda: now[0])
    steps = [Step(name, slow(name, 0.4)) for name in "abcdefgh"]
    op = runner.run(new_op(), steps)
    # boundaries every 0.4 s up to 2.8 s: asked at 1.2 (the first past 1 s) and 2.4 (1.2 s later), both
    # before the answer turns to "stop" at 2.5; the next ask would be due at 3.4, after the last step began
    assert op.state == OperationState.COMPLETED and asked == pytest.approx([1.2, 2.4])
    now[0], asked[:] = 0.0, []
    r.calls.clear()
    op = runner.run(new_op(), [Step(name, slow(name, 0.9)) for name in "abcd"])
    # boundaries at 0.9 (too early), 1.8 (asked: not yet), 2.7 (too early: next due 2.8), then the end
    assert asked == pytest.approx([1.8]) and op.state == OperationState.COMPLETED
    now[0], asked[:] = 0.0, []
    op = runner.run(new_op(), [Step(name, slow(name, 1.3)) for name in "abcd"])
    # boundaries at 1.3 (asked: not yet), 2.6 (asked: stop, before step c)
    assert asked == pytest.approx([1.3, 2.6])
    assert op.state == OperationState.FAILED_TEMP and op.error == "cancelled before step c: stop"
    assert op.step("b").state == StepState.DONE and op.step("c").state == StepState.PENDING
    quick = WorkflowRunner(r.save, cancelled=cancelled, cancel_check_s=1.0, clock=lambda: now[0])
    now[0], asked[:] = 0.0, []
    assert quick.run(new_op(), [Step("a", slow("a", 0.1))]).state == OperationState.COMPLETED and asked == []
