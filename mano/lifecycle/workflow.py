"""Runs a workflow: a named list of steps whose progress lives on the operation record.

This is the one executor that owns outcomes (STYLE practice 9, anti-pattern 3): steps are
plain functions that return a small result dict or raise; the runner persists every step
transition *before* moving on, retries what the exception type says is retryable, and on a
permanent failure rolls back the steps already done, in reverse order. A step that still fails
temporarily once its retries are spent leaves the operation FAILED_TEMP (SOL003's state for it):
nothing is undone, and the operator either retries it (it resumes at that step, with as many
attempts again) or rolls it back (:class:`mano.lifecycle.slm.ServiceLifecycleManager`). An
operator's cancel of a running operation (SOL005's, graceful) takes effect at the next step
boundary and leaves it FAILED_TEMP too. Because progress is
persisted, a runner started again on the same operation (after a crash of the actor that ran
it) skips the steps that are DONE and re-runs the one that was RUNNING, so steps must be
idempotent — and every step here is, by the VNF instance id or the service id it acts on.

One write per step boundary: a step's DONE (with its result) is persisted together with the
next step's RUNNING (or with the operation's final state), in the write that must precede the
next step's first effect anyway. Nothing happens between the two, so a crash leaves the same
choices as two writes would (re-run the step that has no DONE), and an operation makes half
the writes (the step list itself goes with the first RUNNING).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Mapping, TypeVar, overload

from mano.errors import ManoError
from mano.lifecycle.states import OperationState, StepState
from mano.lifecycle.step_results import StepResult
from mano.records import OperationRecord, utcnow

ResultT = TypeVar("ResultT", bound=StepResult)

log = logging.getLogger(__name__)

StepFn = Callable[["StepContext"], "dict[str, Any] | None"]
RollbackFn = Callable[["StepContext"], None]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried when it raises a retryable error (policy as data)."""

    max_attempts: int = 3
    initial_delay_s: float = 0.05
    backoff: float = 2.0
    max_delay_s: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay_s, self.initial_delay_s * self.backoff ** max(0, attempt - 1))


@dataclasses.dataclass(frozen=True)
class Step:
    """One named step: what it does, and how to undo it if a later step fails."""

    name: str
    run: StepFn
    rollback: RollbackFn | None = None


@dataclasses.dataclass
class StepContext:
    """What a step sees: the operation so far (results of earlier steps) and its request."""

    operation: OperationRecord

    @property
    def request(self) -> Mapping[str, Any]:
        return self.operation.request

    @overload
    def result(self, step: str) -> dict[str, Any]: ...

    @overload
    def result(self, step: str, as_type: type[ResultT]) -> ResultT: ...

    def result(self, step: str, as_type: type[ResultT] | None = None) -> Any:
        """The result an earlier step recorded: as stored, or read back as ``as_type`` (the
        step's :class:`~mano.lifecycle.step_results.StepResult`; its defaults if the step has
        not run)."""
        progress = self.operation.step(step)
        recorded = dict(progress.result) if progress else {}
        return recorded if as_type is None else as_type.model_validate(recorded)


class WorkflowRunner:
    """Executes steps against an operation record, persisting through ``save``.

    ``save(op)`` must write the record and return the stored version (with its new rev).
    """

    def __init__(self, save: Callable[[OperationRecord], OperationRecord], *,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep,
                 cancelled: Callable[[str], str | None] = lambda operation_id: None,
                 cancel_check_s: float = 0.0, clock: Callable[[], float] = time.monotonic):
        """``cancelled(operation_id)``: why an operator asked the operation to stop, or None.
        Asked at step boundaries and before retries (a step under way is let finish: SOL005's
        graceful cancel), at most once every ``cancel_check_s`` of a run and not before the
        first has passed: the question is a store read, and an operation shorter than that is
        over before an operator could stop it. An operation it stops goes FAILED_TEMP, for the
        operator to retry or roll back."""
        self._save = save
        self._retry = retry
        self._sleep = sleep
        self._ask_cancelled = cancelled
        self._cancel_check_s = cancel_check_s
        self._clock = clock
        self._next_cancel_check = 0.0

    def plan(self, op: OperationRecord, steps: list[Step], *, save: bool = True) -> OperationRecord:
        """Record the step list as PENDING (once: a resumed operation keeps its progress);
        ``save=False`` leaves it to the next write."""
        missing = [s for s in steps if op.step(s.name) is None]
        if not missing:
            return op
        for step in missing:
            op = op.with_step(step.name, state=StepState.PENDING)
        return self._save(op.model_copy(update={"updated_at": utcnow()})) if save else op

    def run(self, op: OperationRecord, steps: "list[Step] | Callable[[OperationRecord], list[Step]]",
            finalize: Callable[[OperationRecord], None] = lambda op: None) -> OperationRecord:
        """Run (or resume) the operation; return it in a final state.

        ``finalize`` sees the operation in its final state just *before* that state is
        persisted, so the owner (the service) can record its own outcome first: whoever sees
        the operation final also sees the service in its new state.
        """
        plan = steps if callable(steps) else (lambda _op: steps)
        self._next_cancel_check = self._clock() + self._cancel_check_s
        if op.state.is_settled:
            return op  # final, or FAILED_TEMP: the operator's to retry or roll back
        if op.state == OperationState.ROLLING_BACK:
            return self._roll_back(self.plan(op, plan(op)), plan(op), op.error or "rollback resumed", finalize)
        op = self.plan(op, plan(op), save=False)  # saved with the first step's RUNNING
        while True:
            # The plan is asked again after every step: a task SSM may rewrite what follows.
            try:
                current = plan(op)
            except Exception:
                self._persist(op)  # the last step's DONE is not lost with the plan
                raise
            step = next((s for s in current if not _settled(op, s.name)), None)
            if step is None:
                break
            reason = self._cancelled(op.id)
            if reason is not None:
                return self._persist(op.with_state(OperationState.FAILED_TEMP,
                                                   error=f"cancelled before step {step.name}: {reason}"))
            op, error, temporary = self._run_step(op, step)
            if error is not None and temporary:
                return self._persist(op.with_state(OperationState.FAILED_TEMP, error=f"step {step.name} failed "
                                                   f"temporarily: {error}"))
            if error is not None:
                return self._roll_back(op, current, f"step {step.name} failed: {error}", finalize)
        names = {s.name for s in current}
        for dropped in [s.name for s in op.steps if s.name not in names and s.state == StepState.PENDING]:
            op = op.with_step(dropped, state=StepState.SKIPPED, message="not in the schedule")
        return self._finish(op.with_state(OperationState.COMPLETED), finalize)

    def _cancelled(self, operation_id: str) -> str | None:
        now = self._clock()
        if now < self._next_cancel_check:
            return None
        self._next_cancel_check = now + self._cancel_check_s
        return self._ask_cancelled(operation_id)

    def _finish(self, op: OperationRecord, finalize: Callable[[OperationRecord], None]) -> OperationRecord:
        finalize(op)
        return self._persist(op)

    def _run_step(self, op: OperationRecord, step: Step) -> tuple[OperationRecord, str | None, bool]:
        """Run one step with its retries: the operation, and the error if it failed (None if it
        is done) with whether that error was temporary (retryable, the attempts spent)."""
        # Each operator retry gives the step as many attempts again; the count stays the total.
        budget = self._retry.max_attempts * (op.retries + 1)
        while True:
            attempts = (op.step(step.name).attempts if op.step(step.name) else 0) + 1
            op = self._persist(op.with_step(step.name, state=StepState.RUNNING, attempts=attempts,
                                            started_at=utcnow(), message=None))
            try:
                result = _as_record(step.run(StepContext(op)))
            except Exception as exc:  # noqa: BLE001 - the runner owns every outcome
                message = _describe(exc)
                retryable = isinstance(exc, ManoError) and exc.retryable
                retry = retryable and attempts < budget
                log.log(logging.INFO if retry else logging.WARNING, "operation %s step %s attempt %d: %s",
                        op.id, step.name, attempts, message, exc_info=not isinstance(exc, ManoError))
                op = self._persist(op.with_step(step.name, state=StepState.FAILED, message=message,
                                                finished_at=utcnow()))
                if retry and (reason := self._cancelled(op.id)) is not None:
                    return op, f"{message} (not retried: cancelled: {reason})", True
                if retry:
                    self._sleep(self._retry.delay(attempts))
                    continue
                return op, message, retryable
            # Persisted with what comes next (the next step's RUNNING or the final state).
            return op.with_step(step.name, state=StepState.DONE, result=result, finished_at=utcnow()), None, False

    def _roll_back(self, op: OperationRecord, steps: list[Step], error: str,
                   finalize: Callable[[OperationRecord], None]) -> OperationRecord:
        if op.state != OperationState.ROLLING_BACK:
            op = self._persist(op.with_state(OperationState.ROLLING_BACK, error=error))
        failures = []
        for step in reversed(steps):
            progress = op.step(step.name)
            # The failed step may have half-done its work; its rollback must cope (idempotent).
            if progress is None or progress.state not in (StepState.DONE, StepState.FAILED, StepState.RUNNING):
                continue
            if step.rollback is not None:
                try:
                    step.rollback(StepContext(op))
                except Exception as exc:  # noqa: BLE001
                    failures.append(f"rollback of {step.name} failed: {_describe(exc)}")
                    log.warning("operation %s: rollback of %s failed", op.id, step.name, exc_info=True)
                    continue
            if progress.state != StepState.FAILED:
                op = self._persist(op.with_step(step.name, state=StepState.ROLLED_BACK))
        if failures:
            return self._finish(op.with_state(OperationState.FAILED, error="; ".join([error, *failures])), finalize)
        return self._finish(op.with_state(OperationState.ROLLED_BACK), finalize)

    def _persist(self, op: OperationRecord) -> OperationRecord:
        return self._save(op.model_copy(update={"updated_at": utcnow()}))


def _as_record(result: Any) -> dict[str, Any]:
    """What a step returned, as its record keeps it (a typed result's JSON form)."""
    if isinstance(result, StepResult):
        return result.to_record()
    return dict(result or {})


def _settled(op: OperationRecord, name: str) -> bool:
    progress = op.step(name)
    return progress is not None and progress.state in (StepState.DONE, StepState.SKIPPED)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ManoError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
