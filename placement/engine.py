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
   gives up with :class:`~placement.errors.SearchExhaustedError`. Under a budget, with an
   ``exact_runner`` (the live runtime's), a MILP that is not tiny runs elsewhere, racing the
   search to the deadline and cancelled there (:mod:`placement.anytime`);
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

from placement import anytime, exact, exhaustive, search
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
# With an exact runner and a budget, a MILP predicted to take at most this long still runs in
# the caller, as without one: handing it to another process costs more than it can overrun.
# The predictor errs on the slow side where it matters (measured 2026-12-03, 2 cores, load
# balanced: 20 PoPs x 3 VNFs predicted 0.08 s, took 0.025 s; 10 x 4: 0.046 s, 0.021 s; the
# default 3 PoPs: 0.001 s, 0.007 s), so such a MILP holds its caller a few hundredths of a
# second, while a Ray task costs a few milliseconds on a warm worker and a second or more when
# Ray must start one, and racing it means running the search as well. The SONATA demo on the
# packaged 3 PoPs never starts a task.
IN_PROCESS_EXACT_S = 0.1


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


def _runs_elsewhere(problem: PlacementProblem, exact_runner: anytime.ExactRunner | None,
                    deadline: float | None) -> bool:
    """Whether the MILP runs through ``exact_runner``, racing the search (see IN_PROCESS_EXACT_S).
    Without a budget there is no deadline to cancel it at: the MILP runs here, as a library
    caller expects (and may wait for)."""
    return (exact_runner is not None and deadline is not None
            and predicted_exact_seconds(problem) > IN_PROCESS_EXACT_S)


def _search_settings(problem, settings: search.SearchSettings | None, seed: int, deadline: float | None):
    settings = settings or default_settings(problem, seed)
    return settings if deadline is None else dataclasses.replace(settings, deadline=deadline)


def _search_stats(settings: search.SearchSettings, outcome: search.SearchOutcome) -> dict:
    return {"starts": settings.starts, "kicks": settings.kicks, "feasible_starts": outcome.feasible_starts}


def _exact_stats(result: exact.ExactResult) -> dict:
    return {"variables": result.variables, "constraints": result.constraints, "status": result.status,
            "gap": 0.0 if result.optimal else result.gap}


def _race(problem: PlacementProblem, exact_runner: anytime.ExactRunner, *, seed: int, map_fn,
          settings: search.SearchSettings | None, time_limit: float | None, deadline: float) -> _Solved:
    """The MILP elsewhere against the search here, both to the deadline: the better answer."""
    settings = _search_settings(problem, settings, seed, deadline)
    raced = anytime.race(problem, exact_runner, lambda: search.search(problem, settings, map_fn=map_fn),
                         time_limit=time_limit, deadline=deadline)
    if raced.winner == "exact":
        found = raced.searched
        alongside = "found nothing" if found.assignment is None else f"objective {found.objective:.6g}"
        stats = {**_exact_stats(raced.exact), "search": f"ran alongside: {alongside}"}
        return _Solved(raced.assignment, raced.exact.optimal, stats, Solver.EXACT)
    stats = {**_search_stats(settings, raced.searched), "exact": raced.note}
    if time.time() >= deadline:
        stats["deadline_reached"] = True
    return _Solved(raced.assignment, False, stats, Solver.FAST)


def _solve(
    problem: PlacementProblem,
    solver: Solver,
    *,
    seed: int,
    map_fn,
    settings: search.SearchSettings | None,
    time_limit: float | None,
    deadline: float | None = None,
    exact_runner: anytime.ExactRunner | None = None,
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
    if solver is Solver.EXACT and _runs_elsewhere(problem, exact_runner, deadline):
        return _race(problem, exact_runner, seed=seed, map_fn=map_fn, settings=settings, time_limit=time_limit,
                     deadline=deadline)
    if solver is Solver.EXACT:
        try:
            result = exact.place_exact(problem, time_limit=_limit(time_limit, deadline))
        except SearchExhaustedError as exc:
            if deadline is None:
                raise
            # Over budget without an incumbent: the fast search answers in what is left.
            exact_note, solver = str(exc), Solver.FAST
        else:
            return _Solved(result.assignment, result.optimal, _exact_stats(result), solver)
    settings = _search_settings(problem, settings, seed, deadline)
    outcome = search.search(problem, settings, map_fn=map_fn)
    stats = _search_stats(settings, outcome)
    if exact_note:
        stats["exact"] = exact_note
    if deadline is not None and time.time() >= deadline:
        stats["deadline_reached"] = True
    if outcome.assignment is not None:
        return _Solved(outcome.assignment, False, stats, solver)
    # no start found a feasible mapping: let the MILP find one (or prove there is none), then improve it
    limit = _limit(time_limit, deadline) if deadline is not None else (time_limit or 30.0)
    feasibility_only = problem.with_weights(0.0, 0.0)
    if _runs_elsewhere(feasibility_only, exact_runner, deadline):
        fallback = anytime.solve_by(feasibility_only, exact_runner, time_limit=limit, deadline=deadline)
    else:
        fallback = exact.place_exact(feasibility_only, time_limit=limit)
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
    exact_runner: anytime.ExactRunner | None = None,
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
        exact_runner: where a budgeted MILP runs so that it can be stopped (see
            :mod:`placement.anytime`; the live runtime's is a Ray task,
            ``actors.placement_exact.ray_exact_runner``). With one, a MILP predicted to take
            more than ``IN_PROCESS_EXACT_S`` runs there while the search runs here, both to the
            deadline; the better answer wins and the MILP is cancelled at the deadline
            (``stats["exact"]`` says why the search answered, e.g. "cancelled at the deadline").
            None, or no budget: the MILP runs in this process, which HiGHS may hold past its limit.

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
    solve_args = dict(seed=seed, map_fn=map_fn, settings=settings, time_limit=time_limit, deadline=deadline,
                      exact_runner=exact_runner)
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
