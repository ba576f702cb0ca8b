"""Anytime exact solving: the MILP races the fast search to the placement's deadline.

HiGHS cannot be interrupted: it honours its time limit in branch and bound, not while the model
is built and presolved (measured on 2 cores: 33 s for a 10 s limit on 500 PoPs x 3 VNFs, 119 s
for 60 s on 1,138 PoPs x 10 VNFs). So a budgeted placement that is to run the MILP starts it
where it can be stopped, through an injected :class:`ExactRunner` (the Placement plugin's runs
it as a Ray task and kills its worker: ``actors.placement_exact``), and meanwhile runs the fast
search itself with the same deadline, so that an incumbent is ready by then whatever HiGHS
does. :func:`race`:

1. starts the MILP; HiGHS's time limit is what is left once its model is built, up to
   :data:`HAND_BACK_S` before the deadline, so that its incumbent can be back in time;
2. runs the search, which stops kicking at the deadline;
3. waits for the MILP until the deadline, then cancels it whether it answered or not (a no-op
   once it has ended): no solve outlives the placement, nor holds its caller past the budget;
4. answers with the better of what is available: the MILP's assignment when it returned in
   time with one at least as good as the search's (it has HiGHS's proven gap), else the
   search's, recording why (``"cancelled at the deadline"``, a worse incumbent, a failure).

A MILP that proves the request infeasible raises the precise reasons, as the in-process exact
solver does. :func:`solve_by` runs a MILP elsewhere alone, for when there is nothing to race
(the search's feasibility fallback). The package stays free of Ray: a runner is any callable
returning an :class:`ExactRun`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from placement import exact, feasibility
from placement.errors import PlacementError, SearchExhaustedError
from placement.objective import evaluate
from placement.problem import PlacementProblem
from placement.search import SearchOutcome

# HiGHS's time limit ends this long before the deadline, so that what it has at its limit is
# back by the deadline: it stops branch and bound within milliseconds of its limit, and its
# result is tens of KB (milliseconds from a Ray task); the rest is margin for a busy machine.
HAND_BACK_S = 0.1
# The MILP's answer is taken over the search's unless it is worse by more than rounding.
TOLERANCE = 1e-9

CANCELLED = "cancelled at the deadline"


class ExactRun(Protocol):
    """A MILP solve started elsewhere (another process), which can be stopped."""

    def result(self, timeout: float) -> exact.ExactResult | None:
        """The solve's result if it ends within ``timeout`` seconds, else None (still running).

        Raises:
            PlacementError: the solve failed (its process died, its result was lost).
        """
        ...

    def cancel(self) -> None:
        """Stop the solve now and free its CPU; nothing happens once it has ended."""
        ...


class ExactRunner(Protocol):
    """Starts :func:`placement.exact.solve_exact` on ``problem`` elsewhere and returns at once."""

    def __call__(self, problem: PlacementProblem, *, time_limit: float | None, deadline: float) -> ExactRun: ...


@dataclass(frozen=True)
class RaceOutcome:
    """Which solver answered a race, with what, and how the other ended."""

    winner: Literal["exact", "fast"]
    assignment: np.ndarray
    exact: exact.ExactResult | None  # what the MILP returned in time; None: cancelled or failed
    searched: SearchOutcome
    note: str  # how the race ended, for the mapping's stats


def _start(runner: ExactRunner, problem: PlacementProblem, time_limit: float | None, deadline: float) -> ExactRun:
    return runner(problem, time_limit=time_limit, deadline=deadline - HAND_BACK_S)


def _wait_then_cancel(run: ExactRun, deadline: float) -> tuple[exact.ExactResult | None, str | None]:
    """The MILP's result if it comes by the deadline, else None and why; it is cancelled then."""
    try:
        result = run.result(max(0.0, deadline - time.time()))
    except PlacementError as failed:
        return None, f"failed: {failed}"
    finally:
        run.cancel()  # a finished solve is left alone; a running one is killed
    return (result, None) if result is not None else (None, CANCELLED)


def solve_by(
    problem: PlacementProblem, runner: ExactRunner, *, time_limit: float | None, deadline: float
) -> exact.ExactResult:
    """The MILP run by ``runner``, cancelled at the deadline; checked as
    :func:`placement.exact.place_exact` checks it.

    Raises:
        InfeasibleRequestError: no mapping exists.
        SearchExhaustedError: no mapping found by the deadline.
    """
    result, why = _wait_then_cancel(_start(runner, problem, time_limit, deadline), deadline)
    if result is None:
        raise SearchExhaustedError(f"exact solver found no mapping by the deadline ({why})")
    return exact.checked(problem, result, round(result.seconds, 2))


def race(
    problem: PlacementProblem,
    runner: ExactRunner,
    run_search: Callable[[], SearchOutcome],
    *,
    time_limit: float | None,
    deadline: float,
) -> RaceOutcome:
    """The MILP (run by ``runner``) against ``run_search()`` (bounded by the same deadline).

    Raises:
        InfeasibleRequestError: the MILP proved that no mapping exists.
        SearchExhaustedError: neither found a mapping by the deadline.
    """
    run = _start(runner, problem, time_limit, deadline)
    try:
        searched = run_search()
    except BaseException:
        run.cancel()  # the search failed (a lost Ray task, an interrupt): the MILP goes too
        raise
    result, why = _wait_then_cancel(run, deadline)
    if result is not None and result.infeasible and searched.assignment is None:
        raise feasibility.explain_joint_infeasibility(problem, exact.is_feasible)
    if result is not None and result.assignment is not None:
        value = evaluate(problem, result.assignment).total
        if searched.assignment is None or result.optimal or value <= searched.objective + TOLERANCE:
            return RaceOutcome("exact", result.assignment, result, searched, "the MILP answered by the deadline")
        why = f"returned an incumbent worse than the search's ({value:.6g} > {searched.objective:.6g})"
    elif result is not None:
        why = f"ended without a mapping ({result.status})"
    if searched.assignment is None:
        raise SearchExhaustedError(f"neither the MILP ({why}) nor the search found a mapping by the deadline")
    return RaceOutcome("fast", searched.assignment, result, searched, str(why))
