"""``place()``: compile, normalise the weights, solve (exact or fast), verify, report.

The one pure entry point of the package. Steps, each a small function:

1. accept a :class:`ServiceGraph` / :class:`Substrate` or the bare networkx graphs;
2. :func:`~placement.problem.compile_problem` (unary and aggregate infeasibility raise here,
   with reasons);
3. choose the solver (``auto``: every assignment when there are few, the MILP when the model
   is small, else the search);
4. normalise mixed weights by each objective's single-objective optimum (SONATA's calibration),
   computed with the chosen solver;
5. solve; the fast search falls back to the MILP (with a time limit) when no start finds a
   feasible mapping, which either finds one, proves infeasibility with a precise reason, or
   gives up with :class:`~placement.errors.SearchExhaustedError`;
6. re-verify the assignment with :func:`~placement.mapping.violations` and build the
   :class:`~placement.mapping.Mapping`.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np

from placement import exact, exhaustive, search
from placement.errors import PlacementError
from placement.mapping import Mapping, build_mapping, violations
from placement.objective import evaluate
from placement.policy import PlacementPolicy
from placement.problem import PlacementProblem, compile_problem
from placement.service import ServiceGraph
from placement.substrate import Substrate

AUTO_EXACT_LIMIT = 4000  # estimated MILP columns up to which ``auto`` picks the exact solver
NEGLIGIBLE = 1e-9


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


def _as_service(service: ServiceGraph | nx.MultiGraph) -> ServiceGraph:
    return service if isinstance(service, ServiceGraph) else ServiceGraph(service)


def _as_substrate(substrate: Substrate | nx.Graph) -> Substrate:
    return substrate if isinstance(substrate, Substrate) else Substrate(substrate)


def estimated_columns(problem: PlacementProblem) -> int:
    """Rough MILP size: assignment columns plus product columns of bandwidth demands."""
    counts = problem.allowed.sum(axis=1)
    product = sum(int(counts[d.a]) * int(counts[d.b]) for d in problem.item_demands if d.bandwidth > 0)
    return int(counts.sum()) + product


def choose_solver(problem: PlacementProblem, solver: Solver | str) -> Solver:
    """Resolve ``auto`` by model size."""
    solver = Solver(solver)
    if solver is not Solver.AUTO:
        return solver
    if exhaustive.assignments(problem) <= exhaustive.LIMIT:
        return Solver.EXHAUSTIVE
    return Solver.EXACT if estimated_columns(problem) <= AUTO_EXACT_LIMIT else Solver.FAST


def _solve(
    problem: PlacementProblem,
    solver: Solver,
    *,
    seed: int,
    map_fn,
    settings: search.SearchSettings | None,
    time_limit: float | None,
) -> _Solved:
    if solver is Solver.EXHAUSTIVE:
        found = exhaustive.place_exhaustive(problem)
        if found.assignment is not None:
            return _Solved(found.assignment, True, {"checked": found.checked, "feasible": found.feasible})
        solver = Solver.EXACT  # nothing fits: the MILP says precisely why
    if solver is Solver.EXACT:
        result = exact.place_exact(problem, time_limit=time_limit)
        return _Solved(
            result.assignment,
            result.optimal,
            {"variables": result.variables, "constraints": result.constraints, "status": result.status},
        )
    settings = settings or default_settings(problem, seed)
    outcome = search.search(problem, settings, map_fn=map_fn)
    if outcome.assignment is not None:
        return _Solved(
            outcome.assignment,
            False,
            {"starts": settings.starts, "kicks": settings.kicks, "feasible_starts": outcome.feasible_starts},
        )
    # no start found a feasible mapping: let the MILP find one (or prove there is none), then improve it
    fallback = exact.place_exact(problem.with_weights(0.0, 0.0), time_limit=time_limit or 30.0)
    improved = search.search(problem, settings, map_fn=map_fn, initial=fallback.assignment)
    return _Solved(
        improved.assignment,
        False,
        {
            "starts": settings.starts,
            "kicks": settings.kicks,
            "feasible_starts": 0,
            "fallback": "exact feasibility",
        },
    )


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
) -> Mapping:
    """Place ``service`` on ``substrate`` under ``policy``; a pure function.

    Args:
        service: the service graph (or its bare ``nx.MultiGraph``, see :mod:`placement.service`).
        substrate: the substrate (or its bare ``nx.Graph``, see :mod:`placement.substrate`).
        policy: operator/customer policy, weights, single-PoP rule and pins.
        solver: ``exact`` (MILP), ``fast`` (multi-start search), ``exhaustive`` (every
            assignment; for tiny problems) or ``auto`` (by model size).
        seed: seed of the fast search (results depend on it alone).
        map_fn: how the search maps its independent starts (builtin ``map``; a Ray map for
            parallel tasks).
        settings: search budget; default scales with the instance (:func:`default_settings`).
        time_limit: seconds for the MILP (exact solver, or the fast solver's fallback).

    Raises:
        InfeasibleRequestError: no mapping exists (``reasons`` say which resource and where).
        SearchExhaustedError: nothing found and infeasibility not proven within the limits.
        PlacementError: malformed input.
    """
    started = time.perf_counter()
    policy = policy or PlacementPolicy()
    problem = compile_problem(_as_service(service), _as_substrate(substrate), policy)
    chosen = choose_solver(problem, solver)
    if settings is not None and settings.seed != seed:
        settings = search.SearchSettings(**{**settings.__dict__, "seed": seed})
    solve_args = dict(seed=seed, map_fn=map_fn, settings=settings, time_limit=time_limit)
    problem, scales = _normalised(problem, policy, chosen, **solve_args)
    solved = _solve(problem, chosen, **solve_args)
    broken = violations(problem, solved.assignment)
    if broken:
        raise PlacementError(f"internal error: {chosen.value} solver returned an invalid mapping: {broken}")
    stats = {**solved.stats, "items": problem.n_items, "pops": problem.n_pops, "normalisation": scales}
    return build_mapping(
        problem,
        solved.assignment,
        evaluate(problem, solved.assignment),
        solver=chosen.value,
        seconds=time.perf_counter() - started,
        optimal=solved.optimal,
        stats=stats,
    )
