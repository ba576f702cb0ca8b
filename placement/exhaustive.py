"""Exhaustive placement: every assignment checked, the best kept; exact for tiny problems.

A lifecycle request is often tiny (the SONATA demo: 3 VNFs on 3 or 4 PoPs, 27 or 64
assignments). For those, HiGHS spends ~60 ms on the load-dispersion MILP (its linearisation
needs branch and bound) and the multi-start search ~80 ms on its budget, while checking every
assignment with the same checker and objective the other solvers are verified with
(:func:`~placement.mapping.violations`, :func:`~placement.objective.evaluate`) takes a few
milliseconds, and is optimal by construction. ``auto`` picks it up to :data:`LIMIT` assignments.

Ties go to the first assignment in lexicographic order of PoP indices, so the result is
deterministic. Without any feasible assignment it returns None: the engine then asks the MILP,
which explains the infeasibility precisely.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from placement.errors import PlacementError
from placement.mapping import violations
from placement.objective import evaluate
from placement.problem import PlacementProblem

LIMIT = 256  # assignments up to which ``auto`` enumerates (~50 us each here)
MAX_ASSIGNMENTS = 50_000  # beyond this, asked for explicitly, it refuses: seconds, use the MILP
IMPROVEMENT = 1e-12


@dataclass(frozen=True)
class ExhaustiveResult:
    assignment: np.ndarray | None  # None: no assignment is feasible
    checked: int
    feasible: int


def assignments(problem: PlacementProblem) -> int:
    """How many assignments respect the unary rules (each item on a PoP it may use)."""
    return math.prod(int(n) for n in problem.allowed.sum(axis=1))


def place_exhaustive(problem: PlacementProblem) -> ExhaustiveResult:
    """The best feasible assignment of ``problem`` (see the module docstring).

    Raises:
        PlacementError: more than :data:`MAX_ASSIGNMENTS` assignments to check.
    """
    count = assignments(problem)
    if count > MAX_ASSIGNMENTS:
        raise PlacementError(f"{count} assignments are too many to check one by one (at most "
                             f"{MAX_ASSIGNMENTS}); use the exact or the fast solver")
    choices = [np.flatnonzero(problem.allowed[i]) for i in range(problem.n_items)]
    best, best_value, checked, feasible = None, math.inf, 0, 0
    for combination in itertools.product(*choices):
        checked += 1
        assignment = np.fromiter(combination, dtype=np.int64, count=problem.n_items)
        if violations(problem, assignment):
            continue
        feasible += 1
        value = evaluate(problem, assignment).total
        if value < best_value - IMPROVEMENT:
            best, best_value = assignment, value
    return ExhaustiveResult(best, checked, feasible)
