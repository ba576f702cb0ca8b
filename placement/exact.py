"""Exact yardstick: the placement problem as a MILP solved by HiGHS (``scipy.optimize.milp``).

Variables and constraints (all over the compiled :class:`~placement.problem.PlacementProblem`):

* ``x[i,p] ∈ {0,1}`` for allowed item/PoP pairs only; ``Σ_p x[i,p] = 1``; per PoP
  ``Σ_i cores_i x[i,p] ≤ free cores`` and the same for memory.
* Item pairs with a latency bound but no bandwidth: ``x[a,p] ≤ Σ_{q ∈ N(p)} x[b,q]`` where N(p)
  are the PoPs within the bound of p (p itself included): O(P) rows, no extra variables.
* Item pairs that reserve bandwidth: the exact product linearisation ``y[p,q] ≥ 0`` over the
  admissible PoP pairs with ``Σ_q y[p,q] = x[a,p]`` and ``Σ_p y[p,q] = x[b,q]`` (integral x
  forces y to the single pair used), and per WAN link
  ``Σ bandwidth · y[p,q] (route p→q uses the link) + Σ endpoint bandwidth · x ≤ capacity``.
* Load dispersion ``Σ_{p<q} |L_p − L_q|``: every load lies in a known interval
  ``[base_p, base_p + most the PoP can still take]``. Pairs whose intervals do not overlap have
  a fixed sign, so their term is *linear* and folds into the x costs; only overlapping pairs
  get ``d[p,q]`` (with ``d ≥ ±(L_p − L_q)`` for load balanced, and a binary choosing the sign
  for fill first, which maximises a convex function). This keeps 50–200 PoP models small.
* Affinity: closeness is hierarchical (common IPv4 prefix levels), so for each level and prefix
  group g a ``z ≤ Σ_{p∈g} x[a,p]``, ``z ≤ Σ_{p∈g} x[b,p]`` counts one shared level.

Priority and proximity-to-nap objectives are linear in x. The solver stops at a relative MIP
gap of ``mip_rel_gap`` (1e-7 by default: optimal for a yardstick) or at ``time_limit``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import threading

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from placement import feasibility
from placement.errors import SearchExhaustedError
from placement.policy import OperatorPolicy
from placement.problem import PlacementProblem

TOLERANCE = 1e-9


@dataclass(frozen=True)
class ExactResult:
    """Assignment (item → PoP index) or None, and how the solve ended."""

    assignment: np.ndarray | None
    optimal: bool
    infeasible: bool
    seconds: float
    status: str
    variables: int
    constraints: int
    gap: float | None = None  # HiGHS's relative gap between the incumbent and its bound, if known


_HIGHS_LOCK = threading.Lock()


class _Model:
    """Accumulates columns (cost, bounds, integrality) and sparse rows for ``milp``."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []

    def column(self, cost: float = 0.0, lower: float = 0.0, upper: float = 1.0, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(1 if integer else 0)
        return len(self.cost) - 1

    def row(self, terms: dict[int, float] | list[tuple[int, float]], lower: float, upper: float) -> None:
        index = len(self.row_lower)
        for col, val in terms.items() if isinstance(terms, dict) else terms:
            if val:
                self.rows.append(index)
                self.cols.append(col)
                self.vals.append(val)
        self.row_lower.append(lower)
        self.row_upper.append(upper)

    def solve(self, time_limit: float | None, mip_rel_gap: float):
        n = len(self.cost)
        matrix = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.row_lower), n))
        options = {"mip_rel_gap": mip_rel_gap, "presolve": True}
        if time_limit is not None:
            options["time_limit"] = float(time_limit)
        constraints = [LinearConstraint(matrix, self.row_lower, self.row_upper)] if self.row_lower else None
        # scipy's HiGHS binding is not safe for concurrent solves in one process: two threads
        # solving at once get "HiGHS Status 4: Solve error" (seen under 20 concurrent
        # instantiations). Solves are milliseconds here, so they take turns.
        with _HIGHS_LOCK:
            return milp(
                np.array(self.cost),
                integrality=np.array(self.integer),
                bounds=Bounds(self.lower, self.upper),
                constraints=constraints,
                options=options,
            )


def _assignment_columns(model: _Model, problem: PlacementProblem) -> dict[tuple[int, int], int]:
    x = {}
    for i, p in zip(*np.nonzero(problem.allowed)):
        x[(int(i), int(p))] = model.column(integer=True)
    for i in range(problem.n_items):
        model.row({x[(i, int(p))]: 1.0 for p in np.flatnonzero(problem.allowed[i])}, 1.0, 1.0)
    return x


def _capacity_rows(model, problem, x, cores: bool, memory: bool) -> None:
    for need, free, active in (
        (problem.item_cores, problem.free_cores, cores),
        (problem.item_memory, problem.free_memory, memory),
    ):
        if not active:
            continue
        for p in range(problem.n_pops):
            terms = {
                x[(int(i), p)]: float(need[i]) for i in np.flatnonzero(problem.allowed[:, p]) if need[i] > 0
            }
            if terms and sum(terms.values()) > free[p] + TOLERANCE:
                model.row(terms, -np.inf, float(free[p]))


def _load_terms(problem: PlacementProblem, p: int, x) -> dict[int, float]:
    """``L_p − base_p`` as x terms."""
    return {
        x[(int(i), p)]: float(
            problem.item_cores[i] * problem.load_per_core[p] + problem.item_memory[i] * problem.load_per_gb[p]
        )
        for i in np.flatnonzero(problem.allowed[:, p])
    }


def _load_ranges(problem: PlacementProblem) -> tuple[np.ndarray, np.ndarray]:
    low = problem.load_base.copy()
    add_cores = np.minimum(
        np.clip(problem.free_cores, 0, None), problem.allowed.T.astype(float) @ problem.item_cores
    )
    add_memory = np.minimum(
        np.clip(problem.free_memory, 0, None), problem.allowed.T.astype(float) @ problem.item_memory
    )
    return low, low + add_cores * problem.load_per_core + add_memory * problem.load_per_gb


def _dispersion_objective(model, problem: PlacementProblem, x, weight: float) -> None:
    """Add ±weight·Σ|L_p − L_q| (see module docstring for the interval trick)."""
    fill_first = problem.operator is OperatorPolicy.FILL_FIRST
    sign = -1.0 if fill_first else 1.0
    pops = np.flatnonzero(problem.in_load)
    low, high = _load_ranges(problem)
    variable = {int(p) for p in pops if high[p] > low[p] + TOLERANCE}
    slope = dict.fromkeys(variable, 0.0)  # linear coefficient of L_p from fixed-sign pairs
    ordered = sorted(pops, key=lambda p: low[p])
    for a_pos, p in enumerate(ordered):
        for q in ordered[a_pos + 1 :]:
            p, q = int(p), int(q)
            if p not in variable and q not in variable:
                continue
            if high[p] <= low[q] + TOLERANCE or high[q] <= low[p] + TOLERANCE:
                hi_side, lo_side = (q, p) if high[p] <= low[q] + TOLERANCE else (p, q)
                if hi_side in slope:
                    slope[hi_side] += 1.0
                if lo_side in slope:
                    slope[lo_side] -= 1.0
                continue
            _overlapping_pair(model, problem, x, p, q, sign * weight, fill_first, low, high)
    for p, coefficient in slope.items():
        for col, inc in _load_terms(problem, p, x).items():
            model.cost[col] += sign * weight * coefficient * inc


def _overlapping_pair(model, problem, x, p, q, cost, fill_first, low, high) -> None:
    diff = {col: v for col, v in _load_terms(problem, p, x).items()}
    for col, v in _load_terms(problem, q, x).items():
        diff[col] = diff.get(col, 0.0) - v
    constant = float(low[p] - low[q])  # L_p − L_q = constant + diff·x
    below, above = float(low[p] - high[q]), float(high[p] - low[q])  # range of L_p − L_q
    d = model.column(cost=cost, upper=max(-below, above))
    if not fill_first:  # d ≥ |L_p − L_q|
        model.row({d: 1.0, **{c: -v for c, v in diff.items()}}, constant, np.inf)
        model.row({d: 1.0, **diff}, -constant, np.inf)
        return
    # d ≤ |L_p − L_q| with a sign binary b (1: L_p ≥ L_q) and the tightest big-Ms:
    # d ≤ (L_p − L_q) − 2·below·(1 − b)  and  d ≤ (L_q − L_p) + 2·above·b
    b = model.column(integer=True)
    model.row({d: 1.0, **{c: -v for c, v in diff.items()}, b: -2.0 * below}, -np.inf, constant - 2.0 * below)
    model.row({d: 1.0, **diff, b: -2.0 * above}, -np.inf, -constant)


def _linear_objective(model, problem: PlacementProblem, x) -> None:
    w_op, w_dev = problem.operator_weight, problem.developer_weight
    for (i, p), col in x.items():
        if w_op and problem.operator is OperatorPolicy.PRIORITY:
            model.cost[col] -= w_op * problem.item_units[i] * problem.priority[p]
        if w_dev:
            model.cost[col] -= w_dev * problem.endpoint_score[i, p]


def _affinity_objective(model, problem: PlacementProblem, x) -> None:
    if not problem.developer_weight:
        return
    keys = problem.location_keys
    for wish in problem.affinities:
        first, second = np.flatnonzero(problem.allowed[wish.a]), np.flatnonzero(problem.allowed[wish.b])
        for level in range(keys.shape[0]):
            for group in np.intersect1d(keys[level, first], keys[level, second]):
                z = model.column(cost=-problem.developer_weight * wish.weight)
                model.row(
                    {z: 1.0, **{x[(wish.a, int(p))]: -1.0 for p in first if keys[level, p] == group}},
                    -np.inf,
                    0.0,
                )
                model.row(
                    {z: 1.0, **{x[(wish.b, int(p))]: -1.0 for p in second if keys[level, p] == group}},
                    -np.inf,
                    0.0,
                )


def _admissible_partners(
    problem: PlacementProblem, demand, p: int, second: np.ndarray, bandwidth: bool
) -> np.ndarray:
    """PoPs of item b compatible with item a on PoP p (co-location always is)."""
    latency = problem.network.pop_latencies(p)[second]
    ok = np.isfinite(latency) & (latency <= demand.max_latency + TOLERANCE)
    if bandwidth and demand.bandwidth > 0:
        width = problem.network.pop_bottlenecks_from_node(int(problem.network.pop_node[p]))[second]
        ok &= width + TOLERANCE >= demand.bandwidth
    return second[ok | (second == p)]


def _demand_rows(model, problem: PlacementProblem, x, demands: set[int], bandwidth: bool) -> None:
    wan_terms: dict[int, dict[int, float]] = {}
    network = problem.network
    for index in sorted(demands):
        demand = problem.item_demands[index]
        first, second = np.flatnonzero(problem.allowed[demand.a]), np.flatnonzero(problem.allowed[demand.b])
        if not (bandwidth and demand.bandwidth > 0):
            for p in first:
                partners = _admissible_partners(problem, demand, int(p), second, False)
                model.row(
                    {x[(demand.a, int(p))]: 1.0, **{x[(demand.b, int(q))]: -1.0 for q in partners}},
                    -np.inf,
                    0.0,
                )
            continue
        column_sums: dict[int, dict[int, float]] = {int(q): {x[(demand.b, int(q))]: -1.0} for q in second}
        for p in first:
            row = {x[(demand.a, int(p))]: -1.0}
            for q in _admissible_partners(problem, demand, int(p), second, True):
                y = model.column()
                row[y] = 1.0
                column_sums[int(q)][y] = 1.0
                if q != p:
                    for edge in network.pop_path_edges(int(p), int(q)):
                        wan_terms.setdefault(edge, {})[y] = demand.bandwidth
            model.row(row, 0.0, 0.0)
        for terms in column_sums.values():
            model.row(terms, 0.0, 0.0)
    if bandwidth:
        _endpoint_bandwidth_terms(problem, x, wan_terms)
        for edge, terms in wan_terms.items():
            if sum(terms.values()) > network.capacity[edge] + TOLERANCE:
                model.row(terms, -np.inf, float(network.capacity[edge]))


def _endpoint_bandwidth_terms(problem: PlacementProblem, x, wan_terms) -> None:
    network = problem.network
    for demand in problem.endpoint_demands:
        if demand.bandwidth <= 0:
            continue
        for p in np.flatnonzero(problem.allowed[demand.item]):
            for edge in network.path_edges(demand.node, int(network.pop_node[p])):
                terms = wan_terms.setdefault(edge, {})
                col = x[(demand.item, int(p))]
                terms[col] = terms.get(col, 0.0) + demand.bandwidth


def build_model(
    problem: PlacementProblem,
    *,
    objective: bool = True,
    cores: bool = True,
    memory: bool = True,
    latency: bool = True,
    bandwidth: bool = True,
    demands: set[int] | None = None,
):
    """The MILP of ``problem`` (constraint groups can be switched off for diagnosis)."""
    model = _Model()
    x = _assignment_columns(model, problem)
    _capacity_rows(model, problem, x, cores, memory)
    if latency:
        chosen = set(range(len(problem.item_demands))) if demands is None else demands
        _demand_rows(model, problem, x, chosen, bandwidth)
    if objective:
        if problem.operator_weight and problem.operator in (
            OperatorPolicy.LOAD_BALANCED,
            OperatorPolicy.FILL_FIRST,
        ):
            _dispersion_objective(model, problem, x, problem.operator_weight)
        _linear_objective(model, problem, x)
        _affinity_objective(model, problem, x)
    return model, x


def _decode(problem: PlacementProblem, x, solution: np.ndarray) -> np.ndarray:
    assignment = np.full(problem.n_items, -1, dtype=np.int64)
    best = np.full(problem.n_items, -1.0)
    for (i, p), col in x.items():
        if solution[col] > best[i]:
            best[i], assignment[i] = solution[col], p
    return assignment


# HiGHS is given at least this long when the model is built after the deadline has passed: it
# may still return an incumbent its first heuristics find, and whoever waits has stopped anyway.
MIN_TIME_LIMIT_S = 0.05


def solve_exact(
    problem: PlacementProblem,
    *,
    time_limit: float | None = None,
    mip_rel_gap: float = 1e-7,
    deadline: float | None = None,
) -> ExactResult:
    """Solve to optimality (or until ``time_limit``); no exception on infeasibility.

    ``deadline`` (wall clock, ``time.time()``) caps HiGHS's time limit by what is left of it
    once the model is built, which takes seconds on large substrates. HiGHS honours its limit
    in branch and bound only, not while it presolves, so a solve that must end at a deadline
    has to run where it can be killed (``placement.anytime``)."""
    started = time.perf_counter()
    model, x = build_model(problem)
    if deadline is not None:
        left = max(MIN_TIME_LIMIT_S, deadline - time.time())
        time_limit = left if time_limit is None else min(time_limit, left)
    result = model.solve(time_limit, mip_rel_gap)
    seconds = time.perf_counter() - started
    assignment = _decode(problem, x, result.x) if result.x is not None else None
    gap = getattr(result, "mip_gap", None)
    return ExactResult(
        assignment,
        result.status == 0,
        result.status == 2,
        seconds,
        str(result.message),
        len(model.cost),
        len(model.row_lower),
        None if gap is None or assignment is None or not np.isfinite(gap) else float(gap),
    )


def dispersion_pairs(problem: PlacementProblem) -> int:
    """How many PoP pairs the load-dispersion objective needs a variable for (the pairs whose
    load intervals overlap, see the module docstring), counted in O(P log P) without the model."""
    if not (problem.operator_weight and problem.operator in (OperatorPolicy.LOAD_BALANCED, OperatorPolicy.FILL_FIRST)):
        return 0
    pops = np.flatnonzero(problem.in_load)
    if len(pops) < 2:
        return 0
    low, high = _load_ranges(problem)
    low, high = low[pops], high[pops]
    order = np.argsort(low, kind="stable")
    low, high = low[order], high[order]
    # for each p, the PoPs after it (by low) whose interval starts before p's ends: overlaps
    ends = np.searchsorted(low, high - TOLERANCE, side="right")
    overlapping = np.clip(ends - np.arange(len(pops)) - 1, 0, None)
    return int(overlapping.sum())


def is_feasible(problem: PlacementProblem, *, time_limit: float = 10.0, **groups) -> bool:
    """Feasibility oracle for diagnosis; an undecided solve counts as feasible (no false blame)."""
    model, _ = build_model(problem, objective=False, **groups)
    return model.solve(time_limit, 1e-4).status != 2


def place_exact(problem: PlacementProblem, *, time_limit: float | None = None) -> ExactResult:
    """Solve; raise a precise InfeasibleRequestError when no mapping exists."""
    return checked(problem, solve_exact(problem, time_limit=time_limit), time_limit)


def checked(problem: PlacementProblem, result: ExactResult, time_limit: float | None) -> ExactResult:
    """``result`` when it has a mapping; else the precise reasons of an infeasible request
    (InfeasibleRequestError) or SearchExhaustedError (nothing found within the limit)."""
    if result.infeasible:
        raise feasibility.explain_joint_infeasibility(problem, is_feasible)
    if result.assignment is None:
        raise SearchExhaustedError(f"exact solver found no mapping within {time_limit} s ({result.status})")
    return result
