"""``place()``: compile, normalise the weights, solve (exact or fast), verify, report.

The one pure entry point of the package. Steps, each a small function:

1. accept a :class:`ServiceGraph` / :class:`Substrate` or the bare networkx graphs;
2. :func:`~placement.problem.compile_problem` (unary and aggregate infeasibility raise here,
   with reasons);
3. choose the solver (``auto``: every assignment when there are few, the MILP when it is
   predicted to answer within a share of the time budget, else the search);
4. normalise mixed weights by each objective's single-objective optimum (SONATA's calibration),
   computed with the chosen solver;
5. solve; the fast search falls back to the MILP (with a time limit) when no start finds a
   feasible mapping, which either finds one, proves infeasibility with a precise reason, or
   gives up with :class:`~placement.errors.SearchExhaustedError`;
6. re-verify the assignment with :func:`~placement.mapping.violations` and build the
   :class:`~placement.mapping.Mapping`.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np

from placement import exact, exhaustive, search
from placement.errors import PlacementError, SearchExhaustedError
from placement.mapping import Mapping, build_mapping, violations
from placement.objective import evaluate
from placement.policy import PlacementPolicy
from placement.problem import PlacementProblem, compile_problem
from placement.service import ServiceGraph
from placement.substrate import Substrate

NEGLIGIBLE = 1e-9
# ``auto`` picks the MILP when it is predicted to answer within this share of the time budget
# (DEFAULT_BUDGET_S when none is given); otherwise the fast search, whose incumbent is ready at
# any deadline. A MILP that runs over still returns its incumbent when it has one.
EXACT_SHARE = 0.25
DEFAULT_BUDGET_S = 2.0
# predicted_exact_seconds = EXACT_SCALE * columns ** 1.2 * items ** 2, fitted (on the safe side:
# a MILP predicted too slow costs nothing, the search found the MILP's optimum wherever HiGHS
# proved one) on load-balanced solves of 3- and 10-VNF chains on 10 to 200 PoPs, 2 cores,
# 2026-12-02: bench/placement_budget.py. HiGHS took 0.02-0.15 s for 3 VNFs up to 50 PoPs,
# 3.6 s at 100 PoPs, did not close 200 in 10 s; 10 VNFs: 0.95 s on 10 PoPs, 9.3 s on 50.
EXACT_SCALE = 3e-6
# Past this many columns the MILP is not built at all: its Python model alone takes gigabytes
# (the demo on 10,000 load-balanced PoPs has ~5e7 dispersion pairs: 23 GB before HiGHS started).
MAX_EXACT_COLUMNS = 1_000_000
EXACT_COLUMN_EXPONENT = 1.2
EXACT_ITEM_EXPONENT = 2.0


class Solver(str, enum.Enum):
    """Which algorithm places the service."""

    EXACT = "exact"
    FAST = "fast"
    EXHAUSTIVE = "exhaustive"
    AUTO = "auto"


@dataclass(frozen=True)
class _Solved:
    assignment: np.ndarray
    optimal: bool
    stats: dict
    solver: "Solver"


def _as_service(service: ServiceGraph | nx.MultiGraph) -> ServiceGraph:
    return service if isinstance(service, ServiceGraph) else ServiceGraph(service)


def _as_substrate(substrate: Substrate | nx.Graph) -> Substrate:
    return substrate if isinstance(substrate, Substrate) else Substrate(substrate)


def estimated_columns(problem: PlacementProblem) -> int:
    """MILP size without building it: assignment columns, product columns of bandwidth demands,
    and the load-dispersion pairs of a load balanced / fill first objective."""
    counts = problem.allowed.sum(axis=1)
    product = sum(int(counts[d.a]) * int(counts[d.b]) for d in problem.item_demands if d.bandwidth > 0)
    return int(counts.sum()) + product + exact.dispersion_pairs(problem)


def predicted_exact_seconds(problem: PlacementProblem) -> float:
    """How long HiGHS is expected to take on this problem's MILP (fitted powers of its size)."""
    return EXACT_SCALE * estimated_columns(problem) ** EXACT_COLUMN_EXPONENT * problem.n_items ** EXACT_ITEM_EXPONENT


def choose_solver(problem: PlacementProblem, solver: Solver | str, budget_s: float | None = None) -> Solver:
    """Resolve ``auto``: every assignment when there are few, else the MILP when it is predicted
    to answer well within the budget, else the fast search."""
    solver = Solver(solver)
    if solver is not Solver.AUTO:
        return solver
    if exhaustive.assignments(problem) <= exhaustive.LIMIT:
        return Solver.EXHAUSTIVE
    budget = DEFAULT_BUDGET_S if budget_s is None else budget_s
    return Solver.EXACT if predicted_exact_seconds(problem) <= EXACT_SHARE * budget else Solver.FAST


def _left(deadline: float | None, floor: float = 0.05) -> float | None:
    return None if deadline is None else max(floor, deadline - time.time())


def _limit(time_limit: float | None, deadline: float | None) -> float | None:
    left = _left(deadline)
    if left is None:
        return time_limit
    return left if time_limit is None else min(time_limit, left)


def _solve(
    problem: PlacementProblem,
    solver: Solver,
    *,
    seed: int,
    map_fn,
    settings: search.SearchSettings | None,
    time_limit: float | None,
    deadline: float | None = None,
) -> _Solved:
    if solver is Solver.EXHAUSTIVE:
        found = exhaustive.place_exhaustive(problem)
        if found.assignment is not None:
            return _Solved(found.assignment, True, {"checked": found.checked, "feasible": found.feasible}, solver)
        solver = Solver.EXACT  # nothing fits: the MILP says precisely why
    exact_note = None
    if solver is Solver.EXACT and (columns := estimated_columns(problem)) > MAX_EXACT_COLUMNS:
        exact_note = f"the MILP would have {columns:,} columns (at most {MAX_EXACT_COLUMNS:,} are built)"
        if deadline is None:
            raise PlacementError(f"{exact_note}: too large for the exact solver; use the fast one")
        solver = Solver.FAST  # a budget asks for the best answer in time: the search gives one
    if solver is Solver.EXACT:
        try:
            result = exact.place_exact(problem, time_limit=_limit(time_limit, deadline))
        except SearchExhaustedError as exc:
            if deadline is None:
                raise
            # Over budget without an incumbent: the fast search answers in what is left.
            exact_note, solver = str(exc), Solver.FAST
        else:
            stats = {"variables": result.variables, "constraints": result.constraints, "status": result.status,
                     "gap": 0.0 if result.optimal else result.gap}
            return _Solved(result.assignment, result.optimal, stats, solver)
    settings = settings or default_settings(problem, seed)
    if deadline is not None:
        settings = dataclasses.replace(settings, deadline=deadline)
    outcome = search.search(problem, settings, map_fn=map_fn)
    stats = {"starts": settings.starts, "kicks": settings.kicks, "feasible_starts": outcome.feasible_starts}
    if exact_note:
        stats["exact"] = exact_note
    if deadline is not None and time.time() >= deadline:
        stats["deadline_reached"] = True
    if outcome.assignment is not None:
        return _Solved(outcome.assignment, False, stats, solver)
    # no start found a feasible mapping: let the MILP find one (or prove there is none), then improve it
    limit = _limit(time_limit, deadline) if deadline is not None else (time_limit or 30.0)
    fallback = exact.place_exact(problem.with_weights(0.0, 0.0), time_limit=limit)
    improved = search.search(problem, settings, map_fn=map_fn, initial=fallback.assignment)
    return _Solved(improved.assignment, False, {**stats, "feasible_starts": 0, "fallback": "exact feasibility"},
                   solver)


def default_settings(problem: PlacementProblem, seed: int = 0) -> search.SearchSettings:
    """Search budget scaled to the instance: fewer kicks on very large substrates."""
    if problem.n_pops > 500:
        return search.SearchSettings(starts=4, kicks=10, seed=seed)
    return search.SearchSettings(starts=8, kicks=30, seed=seed)


def _normalised(problem: PlacementProblem, policy: PlacementPolicy, solver: Solver, **solve_args) -> tuple:
    """Divide each weight by |single-objective optimum| when both objectives are active."""
    weights = policy.weights
    if not (weights.normalise and weights.operator > 0 and weights.developer > 0):
        return problem, (1.0, 1.0)
    scales = []
    for op, dev in ((1.0, 0.0), (0.0, 1.0)):
        single = problem.with_weights(op, dev)
        optimum = evaluate(single, _solve(single, solver, **solve_args).assignment).total
        scales.append(abs(optimum) if abs(optimum) > NEGLIGIBLE else 1.0)
    return problem.with_weights(weights.operator / scales[0], weights.developer / scales[1]), tuple(scales)


def place(
    service: ServiceGraph | nx.MultiGraph,
    substrate: Substrate | nx.Graph,
    policy: PlacementPolicy | None = None,
    *,
    solver: Solver | str = Solver.AUTO,
    seed: int = 0,
    map_fn=map,
    settings: search.SearchSettings | None = None,
    time_limit: float | None = None,
    budget_s: float | None = None,
) -> Mapping:
    """Place ``service`` on ``substrate`` under ``policy``; a pure function.

    Args:
        service: the service graph (or its bare ``nx.MultiGraph``, see :mod:`placement.service`).
        substrate: the substrate (or its bare ``nx.Graph``, see :mod:`placement.substrate`).
        policy: operator/customer policy, weights, single-PoP rule and pins.
        solver: ``exact`` (MILP), ``fast`` (multi-start search), ``exhaustive`` (every
            assignment; for tiny problems) or ``auto`` (by predicted time, see :func:`choose_solver`).
        seed: seed of the fast search (results depend on it alone, unless the budget runs out).
        map_fn: how the search maps its independent starts (builtin ``map``; a Ray map for
            parallel tasks).
        settings: search budget; default scales with the instance (:func:`default_settings`).
        time_limit: seconds for the MILP (exact solver, or the fast solver's fallback).
        budget_s: wall-clock budget of the whole placement. The answer is the best mapping found
            by then: the MILP runs with the time left and returns its incumbent (with its proven
            gap, ``stats["gap"]``), the search stops kicking at the deadline. None: no budget.

    Raises:
        InfeasibleRequestError: no mapping exists (``reasons`` say which resource and where).
        SearchExhaustedError: nothing found and infeasibility not proven within the limits.
        PlacementError: malformed input.
    """
    started = time.perf_counter()
    deadline = None if budget_s is None else time.time() + budget_s
    policy = policy or PlacementPolicy()
    problem = compile_problem(_as_service(service), _as_substrate(substrate), policy)
    chosen = choose_solver(problem, solver, budget_s)
    if settings is not None and settings.seed != seed:
        settings = dataclasses.replace(settings, seed=seed)
    solve_args = dict(seed=seed, map_fn=map_fn, settings=settings, time_limit=time_limit, deadline=deadline)
    problem, scales = _normalised(problem, policy, chosen, **solve_args)
    solved = _solve(problem, chosen, **solve_args)
    broken = violations(problem, solved.assignment)
    if broken:
        raise PlacementError(f"internal error: {solved.solver.value} solver returned an invalid mapping: {broken}")
    stats = {**solved.stats, "items": problem.n_items, "pops": problem.n_pops, "normalisation": scales}
    if solved.solver is not chosen:
        stats["chosen"] = chosen.value
    return build_mapping(
        problem,
        solved.assignment,
        evaluate(problem, solved.assignment),
        solver=solved.solver.value,
        seconds=time.perf_counter() - started,
        optimal=solved.optimal,
        stats=stats,
    )
