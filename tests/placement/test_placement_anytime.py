"""Anytime exact solving (placement.anytime): a budgeted MILP run by an injected runner races the
search to the deadline; the better answer available then wins and the MILP is cancelled.

The runners here are fakes in this process (no Ray): what matters is what the engine asks of
them and what it answers. tests/placement/test_placement_exact_task.py runs the real one.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from placement import (
    OperatorPolicy,
    PlacementError,
    PlacementPolicy,
    SearchExhaustedError,
    anytime,
    exact,
    generators,
    place,
)
from placement.engine import IN_PROCESS_EXACT_S, predicted_exact_seconds
from placement.mapping import violations
from placement.objective import evaluate
from placement.problem import compile_problem

LOAD_BALANCED = PlacementPolicy(OperatorPolicy.LOAD_BALANCED)


def instance(n_pops, n_vnfs, seed=0):
    substrate = generators.zoo_like_substrate(n_pops, seed=seed)
    service = generators.chain_service(n_vnfs, seed=seed, endpoints=generators.endpoints_on(substrate, seed=seed))
    return service, substrate


class FakeRun:
    """A solve 'elsewhere': ``answer`` is what it returns (None: still running at any timeout)."""

    def __init__(self, answer=None, fails: str | None = None):
        self.answer, self.fails = answer, fails
        self.cancelled = threading.Event()
        self.waited: list[float] = []

    def result(self, timeout):
        self.waited.append(timeout)
        if self.fails:
            raise PlacementError(self.fails)
        if self.answer is None:
            time.sleep(timeout)  # as a solve that is still running
        return self.answer

    def cancel(self):
        self.cancelled.set()


class FakeRunner:
    def __init__(self, make_run):
        self.make_run = make_run
        self.runs: list[FakeRun] = []
        self.calls: list[dict] = []

    def __call__(self, problem, *, time_limit, deadline):
        self.calls.append({"problem": problem, "time_limit": time_limit, "deadline": deadline, "at": time.time()})
        run = self.make_run(problem, deadline)
        self.runs.append(run)
        return run


def never_called(problem, **_):
    pytest.fail("the MILP was handed to the runner")


MIDSIZE = instance(40, 3)  # its MILP: predicted 0.36 s, HiGHS proves the optimum in about 0.2 s


def test_a_midsize_milp_is_predicted_above_the_in_process_limit():
    assert predicted_exact_seconds(compile_problem(*MIDSIZE, LOAD_BALANCED)) > IN_PROCESS_EXACT_S


def test_a_milp_that_overruns_the_budget_is_cancelled_and_the_search_answers():
    runner = FakeRunner(lambda problem, deadline: FakeRun())
    started = time.time()
    mapping = place(*MIDSIZE, LOAD_BALANCED, solver="exact", budget_s=0.5, exact_runner=runner)
    elapsed = time.time() - started
    (call,), (run,) = runner.calls, runner.runs
    assert mapping.solver == "fast" and mapping.stats["chosen"] == "exact" and not mapping.optimal
    assert mapping.stats["exact"] == anytime.CANCELLED == "cancelled at the deadline"
    assert run.cancelled.is_set()
    # HiGHS is told to stop before the deadline, and the engine waits for it only up to it
    assert call["deadline"] <= started + 0.5 - anytime.HAND_BACK_S + 0.05
    assert max(run.waited) <= 0.5
    assert elapsed < 5.0  # generous (busy machine); the fake 'solve' would never end (place() checked the mapping)


def test_a_milp_that_proves_its_optimum_in_time_answers_with_a_zero_gap():
    runner = FakeRunner(lambda problem, deadline: FakeRun(exact.solve_exact(problem, deadline=deadline)))
    mapping = place(*MIDSIZE, LOAD_BALANCED, solver="exact", budget_s=20.0, exact_runner=runner)
    assert mapping.solver == "exact" and mapping.optimal and mapping.stats["gap"] == 0.0
    assert mapping.stats["search"].startswith("ran alongside")  # the search raced it
    assert runner.runs[0].cancelled.is_set()  # a no-op on an ended solve, but always asked for
    in_process = place(*MIDSIZE, LOAD_BALANCED, solver="exact")
    assert mapping.objective == pytest.approx(in_process.objective)


def test_a_milp_incumbent_worse_than_the_search_loses_to_it():
    problem = compile_problem(*MIDSIZE, LOAD_BALANCED)
    best = place(*MIDSIZE, LOAD_BALANCED, solver="exact").objective
    worse = next(a for a in (np.full(problem.n_items, p) for p in range(problem.n_pops))
                 if not violations(problem, a) and evaluate(problem, a).total > best + 1e-6)
    incumbent = exact.ExactResult(worse, False, False, 0.4, "Time limit reached", 10, 10, gap=0.5)
    runner = FakeRunner(lambda problem, deadline: FakeRun(incumbent))
    mapping = place(*MIDSIZE, LOAD_BALANCED, solver="exact", budget_s=20.0, exact_runner=runner)
    assert mapping.solver == "fast" and "worse than the search's" in mapping.stats["exact"]
    assert mapping.objective < evaluate(problem, worse).total


def test_a_failed_milp_leaves_the_answer_to_the_search():
    runner = FakeRunner(lambda problem, deadline: FakeRun(fails="its worker died"))
    mapping = place(*MIDSIZE, LOAD_BALANCED, solver="exact", budget_s=5.0, exact_runner=runner)
    assert mapping.solver == "fast" and mapping.stats["exact"] == "failed: its worker died"
    assert runner.runs[0].cancelled.is_set()


def test_a_search_that_fails_takes_the_milp_down_with_it():
    runner = FakeRunner(lambda problem, deadline: FakeRun())

    def broken_map(fn, items):
        raise PlacementError("the fan-out lost a task")

    with pytest.raises(PlacementError, match="lost a task"):
        place(*MIDSIZE, LOAD_BALANCED, solver="exact", budget_s=5.0, exact_runner=runner, map_fn=broken_map)
    assert runner.runs[0].cancelled.is_set()


def test_tiny_and_unbudgeted_milps_run_in_process_as_before():
    tiny = place(*instance(10, 3), LOAD_BALANCED, solver="exact", budget_s=1.0, exact_runner=never_called)
    assert tiny.solver == "exact" and tiny.optimal
    # a library caller without a budget waits for the MILP, as it always did
    unbudgeted = place(*MIDSIZE, LOAD_BALANCED, solver="exact", exact_runner=never_called)
    assert unbudgeted.solver == "exact" and unbudgeted.optimal and "search" not in unbudgeted.stats


def test_solve_by_gives_up_at_the_deadline_and_cancels():
    problem = compile_problem(*MIDSIZE, LOAD_BALANCED)
    runner = FakeRunner(lambda problem, deadline: FakeRun())
    with pytest.raises(SearchExhaustedError, match="cancelled at the deadline"):
        anytime.solve_by(problem, runner, time_limit=None, deadline=time.time() + 0.2)
    assert runner.runs[0].cancelled.is_set()
