"""Fast search: multi-start iterated local search whose starts fan out through ``map_fn``.

Each *start* is an independent, pure, picklable subproblem (:func:`run_start`):

1. construction: items in breadth-first order over the service's QoS and affinity ties (so an
   item is placed next to partners already placed, avoiding dead ends), each on its cheapest
   feasible PoP — start 0 purely greedy, the others choosing at random among the best
   ``greedy_choices``; a dead end restarts the construction rooted at the stuck item;
2. local search: relocate one item (remove, then best insertion) and swap two items (delta
   evaluated without moving anything) until no move improves;
3. perturbation ("kicks"): remove a random *connected* chunk of the service and re-insert it by
   randomised greedy choices, then local search again; keep the best. Items tied by latency
   bounds can often only move together, which single-item moves cannot do. A start stops
   after ``kicks`` rounds or ``patience`` rounds in a row without improvement.

:func:`search` maps the starts with the injected ``map_fn`` — the builtin ``map`` by default,
``actors.placement_search.ray_map`` to run them as parallel Ray tasks — and keeps the best.
If no start finds a feasible mapping, :mod:`placement.engine` asks the MILP for one and
passes it back here as ``initial`` for improvement.

Determinism: start k draws from ``numpy.random.default_rng([seed, k])`` and only counts moves
(never wall time), and the winner is the lowest (objective, start index); so the result
depends on the seed alone, not on how ``map_fn`` schedules the starts.

Speed: the objective is maintained incrementally. Inserting an item on PoP q changes one load;
with the loads sorted and prefix-summed, ``F(y) = Σ_r |y − L_r|`` is one ``searchsorted``, so
the change of the dispersion ``Σ_{p<q}|L_p − L_q|`` for *all* candidate PoPs at once is a few
vectorised numpy operations (O(P log P)). Capacity and latency to already placed partners are
screened vectorised as well; WAN bandwidth is checked only for the candidate about to be taken.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from placement.objective import evaluate
from placement.policy import OperatorPolicy
from placement.problem import PlacementProblem

TOLERANCE = 1e-9
IMPROVEMENT = 1e-12
MapFn = Callable[[Callable, Iterable], Iterable]


@dataclass(frozen=True)
class SearchSettings:
    """Budget of the search, in moves rather than seconds (so results are reproducible)."""

    starts: int = 8  # independent starts: the unit of parallel work
    kicks: int = 30  # perturbation rounds per start
    kick_size: int = 4  # at most this many connected items re-placed by one perturbation
    greedy_choices: int = 3  # randomised greedy picks among the best k PoPs (start 0: greedy)
    swap_limit: int = 40  # swap moves only for services with at most this many items
    patience: int = 12  # stop a start after this many kicks in a row without improvement
    seed: int = 0
    # Wall-clock time (``time.time()``) after which starts stop kicking and return their best:
    # the anytime bound of a budgeted placement. None: the move budget alone (reproducible).
    deadline: float | None = None


@dataclass(frozen=True)
class StartOutcome:
    """Result of one start: assignment (item → PoP index) or None if it found nothing feasible."""

    start: int
    assignment: tuple[int, ...] | None
    objective: float
    moves: int


@dataclass(frozen=True)
class SearchOutcome:
    """Best assignment over all starts, and every start's outcome."""

    assignment: np.ndarray | None
    objective: float
    starts: tuple[StartOutcome, ...]

    @property
    def feasible_starts(self) -> int:
        """How many starts found a feasible mapping."""
        return sum(s.assignment is not None for s in self.starts)


class _State:
    """A (partial) assignment with incrementally maintained usage, loads and objective."""

    def __init__(self, problem: PlacementProblem):
        self.problem = problem
        self.assign = np.full(problem.n_items, -1, dtype=np.int64)
        self.cores = np.zeros(problem.n_pops)
        self.memory = np.zeros(problem.n_pops)
        self.load = problem.load_base.astype(float).copy()
        self.sorted = np.sort(self.load[problem.in_load])
        self._prefix: np.ndarray | None = None
        self.wan = np.zeros(len(problem.network.capacity))
        self.value = 0.0
        self.increments = [problem.item_load(i) for i in range(problem.n_items)]
        self.partners: list[list] = [[] for _ in range(problem.n_items)]
        for demand in problem.item_demands:
            self.partners[demand.a].append((demand.b, demand))
            self.partners[demand.b].append((demand.a, demand))
        self.fixed: list[list] = [[] for _ in range(problem.n_items)]
        for demand in problem.endpoint_demands:
            if demand.bandwidth > 0:
                self.fixed[demand.item].append(demand)
        self.friends: list[list] = [[] for _ in range(problem.n_items)]
        for wish in problem.affinities:
            self.friends[wish.a].append((wish.b, wish.weight))
            self.friends[wish.b].append((wish.a, wish.weight))
        self.dispersion_sign = {OperatorPolicy.LOAD_BALANCED: 1.0, OperatorPolicy.FILL_FIRST: -1.0}.get(
            problem.operator, 0.0
        ) * problem.operator_weight
        self.priority_weight = problem.operator_weight if problem.operator is OperatorPolicy.PRIORITY else 0.0

    # --- objective deltas --------------------------------------------------------------
    def _spread_sum(self, y: np.ndarray) -> np.ndarray:
        """F(y) = Σ_r |y − L_r| over the PoPs in the load set, vectorised over y."""
        if self._prefix is None:
            self._prefix = np.concatenate(([0.0], np.cumsum(self.sorted)))
        prefix, n = self._prefix, len(self.sorted)
        k = np.searchsorted(self.sorted, y)
        return y * k - prefix[k] + (prefix[n] - prefix[k]) - y * (n - k)

    def _dispersion_delta(self, pops: np.ndarray, increment: np.ndarray) -> np.ndarray:
        if not self.dispersion_sign or not len(self.sorted):
            return np.zeros(len(pops))
        old = self.load[pops]
        new = old + increment
        delta = self._spread_sum(new) - np.abs(increment) - self._spread_sum(old)
        return self.dispersion_sign * np.where(self.problem.in_load[pops], delta, 0.0)

    def insertion_delta(self, item: int, pops: np.ndarray) -> np.ndarray:
        """Objective change of putting (unplaced) ``item`` on each of ``pops``."""
        problem = self.problem
        delta = self._dispersion_delta(pops, self.increments[item][pops])
        if self.priority_weight:
            delta -= self.priority_weight * problem.item_units[item] * problem.priority[pops]
        if problem.developer_weight:
            score = problem.endpoint_score[item, pops].copy()
            keys = problem.location_keys
            for other, weight in self.friends[item]:
                where = self.assign[other]
                if where >= 0:
                    score += weight * (keys[:, pops] == keys[:, where : where + 1]).sum(axis=0)
            delta -= problem.developer_weight * score
        return delta

    # --- feasibility screens ------------------------------------------------------------
    def candidates(self, item: int) -> np.ndarray:
        """PoPs where unplaced ``item`` fits now: allowed, capacity, latency to placed partners."""
        problem = self.problem
        ok = problem.allowed[item].copy()
        ok &= self.cores + problem.item_cores[item] <= problem.free_cores + TOLERANCE
        ok &= self.memory + problem.item_memory[item] <= problem.free_memory + TOLERANCE
        for other, demand in self.partners[item]:
            where = self.assign[other]
            if where >= 0:
                latency = problem.network.pop_latencies(int(where))
                near = np.isfinite(latency) & (latency <= demand.max_latency + TOLERANCE)
                near[where] = True
                ok &= near
        return np.flatnonzero(ok)

    def _routes(self, item: int, pop: int) -> list[tuple[tuple[int, ...], float]]:
        network, routes = self.problem.network, []
        for other, demand in self.partners[item]:
            where = self.assign[other]
            if where >= 0 and where != pop and demand.bandwidth > 0:
                routes.append((network.pop_path_edges(pop, int(where)), demand.bandwidth))
        for demand in self.fixed[item]:
            routes.append((network.path_edges(demand.node, int(network.pop_node[pop])), demand.bandwidth))
        return routes

    def bandwidth_fits(self, item: int, pop: int) -> bool:
        """WAN links on the new routes keep enough capacity."""
        extra: dict[int, float] = {}
        for edges, bandwidth in self._routes(item, pop):
            for edge in edges:
                extra[edge] = extra.get(edge, 0.0) + bandwidth
        capacity = self.problem.network.capacity
        return all(self.wan[e] + b <= capacity[e] + TOLERANCE for e, b in extra.items())

    # --- moves ----------------------------------------------------------------------------
    def _move_load(self, pop: int, increment: float) -> None:
        """Change one PoP's load and keep ``sorted`` sorted with an in-place shift (no realloc)."""
        old = self.load[pop]
        new = old + increment
        self.load[pop] = new
        if self.problem.in_load[pop] and increment:
            values = self.sorted
            at = int(values.searchsorted(old))
            if new > old:
                to = int(values.searchsorted(new, "right"))
                values[at : to - 1] = values[at + 1 : to]
                values[to - 1] = new
            else:
                to = int(values.searchsorted(new, "left"))
                values[to + 1 : at + 1] = values[to:at]
                values[to] = new
            self._prefix = None

    def _spread_scalar(self, y: float) -> float:
        if self._prefix is None:
            self._prefix = np.concatenate(([0.0], np.cumsum(self.sorted)))
        prefix, n = self._prefix, len(self.sorted)
        k = int(self.sorted.searchsorted(y))
        return float(y * k - prefix[k] + (prefix[n] - prefix[k]) - y * (n - k))

    def _scalar_delta(self, item: int, pop: int, sign: float) -> float:
        """Objective change of adding (sign +1) or, once unplaced, re-adding (−1) ``item`` on ``pop``."""
        problem, delta = self.problem, 0.0
        increment = float(self.increments[item][pop])
        if self.dispersion_sign and increment:
            old = self.load[pop]
            delta += self.dispersion_sign * (
                self._spread_scalar(old + increment) - abs(increment) - self._spread_scalar(old)
            )
        if self.priority_weight:
            delta -= self.priority_weight * problem.item_units[item] * problem.priority[pop]
        if problem.developer_weight:
            score = problem.endpoint_score[item, pop]
            keys = problem.location_keys
            for other, weight in self.friends[item]:
                where = self.assign[other]
                if where >= 0:
                    score += weight * int((keys[:, pop] == keys[:, where]).sum())
            delta -= problem.developer_weight * score
        return sign * delta

    def insert(self, item: int, pop: int) -> float:
        """Place unplaced ``item`` on ``pop`` (no rule checks); returns the objective change."""
        if self.assign[item] >= 0:
            raise RuntimeError(f"item {item} is placed already")
        delta = self._scalar_delta(item, pop, 1.0)
        for edges, bandwidth in self._routes(item, pop):
            self.wan[list(edges)] += bandwidth
        self.assign[item] = pop
        self.cores[pop] += self.problem.item_cores[item]
        self.memory[pop] += self.problem.item_memory[item]
        self._move_load(pop, float(self.increments[item][pop]))
        self.value += delta
        return delta

    def remove(self, item: int) -> float:
        """Unplace ``item``; returns the objective change."""
        pop = int(self.assign[item])
        self.assign[item] = -1
        self.cores[pop] -= self.problem.item_cores[item]
        self.memory[pop] -= self.problem.item_memory[item]
        self._move_load(pop, -float(self.increments[item][pop]))
        for edges, bandwidth in self._routes(item, pop):
            self.wan[list(edges)] -= bandwidth
        delta = self._scalar_delta(item, pop, -1.0)
        self.value += delta
        return delta

    def swap_delta(self, i: int, j: int) -> float | None:
        """Objective change of exchanging the PoPs of items i and j, None if a rule forbids it.

        Evaluated without touching the state: the two loads change at once, so the dispersion
        change is the two-point formula ``t_p + t_q − |x_p − L_q| − |x_q − L_p| + |L_p − L_q| +
        |x_p − x_q|`` with ``t_r = F(x_r) − |x_r − L_r| − F(L_r)``. WAN bandwidth is checked by
        the caller when it applies the swap.
        """
        problem = self.problem
        p, q = int(self.assign[i]), int(self.assign[j])
        if p == q or not (problem.allowed[i, q] and problem.allowed[j, p]):
            return None
        for pop, leaving, arriving in ((p, i, j), (q, j, i)):
            if (
                self.cores[pop] - problem.item_cores[leaving] + problem.item_cores[arriving]
                > problem.free_cores[pop] + TOLERANCE
                or self.memory[pop] - problem.item_memory[leaving] + problem.item_memory[arriving]
                > problem.free_memory[pop] + TOLERANCE
            ):
                return None
        if not (self._latency_ok(i, q, skip=j) and self._latency_ok(j, p, skip=i)):
            return None
        delta = self._swap_dispersion(i, j, p, q)
        if self.priority_weight:
            delta -= (
                self.priority_weight
                * (problem.item_units[i] - problem.item_units[j])
                * (problem.priority[q] - problem.priority[p])
            )
        if problem.developer_weight:
            gain = (
                problem.endpoint_score[i, q]
                - problem.endpoint_score[i, p]
                + problem.endpoint_score[j, p]
                - problem.endpoint_score[j, q]
            )
            keys = problem.location_keys
            for item, old, new, skip in ((i, p, q, j), (j, q, p, i)):
                for other, weight in self.friends[item]:
                    where = self.assign[other]
                    if other != skip and where >= 0:
                        gain += weight * int(
                            (keys[:, new] == keys[:, where]).sum() - (keys[:, old] == keys[:, where]).sum()
                        )
            delta -= problem.developer_weight * gain
        return float(delta)

    def _latency_ok(self, item: int, pop: int, skip: int) -> bool:
        for other, demand in self.partners[item]:
            where = int(self.assign[other]) if other != skip else -1
            if where >= 0 and where != pop:
                latency = self.problem.network.pop_latencies(where)[pop]
                if not (np.isfinite(latency) and latency <= demand.max_latency + TOLERANCE):
                    return False
        return True

    def _swap_dispersion(self, i: int, j: int, p: int, q: int) -> float:
        if not self.dispersion_sign:
            return 0.0
        in_load = self.problem.in_load
        lp, lq = self.load[p], self.load[q]
        xp = lp - self.increments[i][p] + self.increments[j][p]
        xq = lq - self.increments[j][q] + self.increments[i][q]
        term = 0.0
        if in_load[p]:
            term += self._spread_scalar(xp) - abs(xp - lp) - self._spread_scalar(lp)
        if in_load[q]:
            term += self._spread_scalar(xq) - abs(xq - lq) - self._spread_scalar(lq)
        if in_load[p] and in_load[q]:
            term += -abs(xp - lq) - abs(xq - lp) + abs(lp - lq) + abs(xp - xq)
        return self.dispersion_sign * term

    def best_insertion(
        self, item: int, rng: np.random.Generator | None = None, choices: int = 1, exclude: int = -1
    ) -> tuple[int, float] | None:
        """Cheapest feasible PoP for unplaced ``item`` (random among the ``choices`` best if rng)."""
        pops = self.candidates(item)
        pops = pops[pops != exclude]
        if not len(pops):
            return None
        delta = self.insertion_delta(item, pops)
        order = np.argsort(delta, kind="stable")
        if rng is not None and choices > 1:
            head = order[:choices]
            order = np.concatenate((rng.permutation(head), order[choices:]))
        for index in order:
            if self.bandwidth_fits(item, int(pops[index])):
                return int(pops[index]), float(delta[index])
        return None


def _bfs_order(state: _State, root: int, rng) -> list[int]:
    """Items in breadth-first order over QoS and affinity ties, starting at ``root``.

    Placing each item next to already placed partners (rather than in arbitrary order) avoids
    dead ends where an item must be near two partners that were placed far apart.
    """
    problem, seen, order = state.problem, set(), []
    roots = [root] + [
        int(i)
        for i in (
            rng.permutation(problem.n_items)
            if rng is not None
            else np.argsort(problem.allowed.sum(axis=1), kind="stable")
        )
    ]
    for start in roots:
        if start in seen:
            continue
        seen.add(start)
        queue = [start]
        while queue:
            item = queue.pop(0)
            order.append(item)
            ties = sorted(
                {other for other, _ in state.partners[item]} | {other for other, _ in state.friends[item]}
            )
            for other in rng.permutation(ties) if rng is not None and ties else ties:
                if int(other) not in seen:
                    seen.add(int(other))
                    queue.append(int(other))
    return order


def _construct(state: _State, root: int, rng, choices: int, attempts: int = 3) -> bool:
    """Greedy construction in BFS order; on a dead end, retry rooted at the item that got stuck."""
    for _ in range(attempts):
        stuck = None
        for item in _bfs_order(state, root, rng):
            found = state.best_insertion(item, rng if choices > 1 else None, choices)
            if found is None:
                stuck = item
                break
            state.insert(item, found[0])
        if stuck is None:
            return True
        _restore(state, np.full(state.problem.n_items, -1, dtype=np.int64))
        root = stuck
    return False


def _relocate_pass(state: _State, order: np.ndarray) -> bool:
    improved = False
    for item in order:
        item = int(item)
        home = int(state.assign[item])
        before = state.value
        state.remove(item)
        found = state.best_insertion(item)
        if found is not None and found[0] != home and state.value + found[1] < before - IMPROVEMENT:
            state.insert(item, found[0])
            improved = True
        else:
            state.insert(item, home)
    return improved


def _swap_pass(state: _State) -> bool:
    """Apply the first improving feasible swap (deltas are evaluated without moving anything)."""
    n = state.problem.n_items
    for i in range(n):
        for j in range(i + 1, n):
            delta = state.swap_delta(i, j)
            if delta is None or delta >= -IMPROVEMENT:
                continue
            p, q = int(state.assign[i]), int(state.assign[j])
            state.remove(i)
            state.remove(j)
            if state.bandwidth_fits(i, q):
                state.insert(i, q)
                if state.bandwidth_fits(j, p):
                    state.insert(j, p)
                    return True
                state.remove(i)
            state.insert(i, p)
            state.insert(j, q)
    return False


def _local_search(state: _State, order: np.ndarray, swap_limit: int) -> int:
    moves = 0
    while True:
        moves += 1
        if _relocate_pass(state, order):
            continue
        if state.problem.n_items <= swap_limit and _swap_pass(state):
            continue
        return moves


def _restore(state: _State, target: np.ndarray) -> None:
    """Move every item to ``target`` (−1: unplaced); removals first so capacity is never exceeded."""
    moved = np.flatnonzero(state.assign != target)
    for item in moved:
        if state.assign[item] >= 0:
            state.remove(int(item))
    for item in moved:
        if target[item] >= 0:
            state.insert(int(item), int(target[item]))


def _neighbourhood(state: _State, rng, size: int) -> list[int]:
    """A random connected chunk of the service: BFS over QoS and affinity ties from a random item.

    Items tied by latency bounds can often only move together (each one alone would break its
    bound), so perturbing a connected chunk lets the search escape such local optima.
    """
    seed = int(rng.integers(state.problem.n_items))
    chunk, frontier = [seed], [seed]
    while frontier and len(chunk) < size:
        item = frontier.pop(0)
        ties = [other for other, _ in state.partners[item]] + [other for other, _ in state.friends[item]]
        for other in rng.permutation(ties) if ties else ():
            if int(other) not in chunk and len(chunk) < size:
                chunk.append(int(other))
                frontier.append(int(other))
    while len(chunk) < size:  # top up with random items when the chunk is isolated
        other = int(rng.integers(state.problem.n_items))
        if other not in chunk:
            chunk.append(other)
    return chunk


def _kick(state: _State, rng, settings: SearchSettings) -> bool:
    """Remove a random connected chunk and re-insert it by randomised greedy choices."""
    size = int(rng.integers(1, min(settings.kick_size, state.problem.n_items) + 1))
    chunk = _neighbourhood(state, rng, size)
    for item in chunk:
        state.remove(item)
    for item in rng.permutation(chunk):
        found = state.best_insertion(int(item), rng, settings.greedy_choices)
        if found is None:
            return False
        state.insert(int(item), found[0])
    return True


def _improve(state: _State, rng, settings: SearchSettings, order) -> tuple[np.ndarray, float, int]:
    """Local search, then ``settings.kicks`` perturbation rounds keeping the best assignment."""
    problem = state.problem
    state.value = evaluate(problem, state.assign).total  # absolute value; deltas keep it current
    moves = _local_search(state, np.asarray(order), settings.swap_limit)
    best, best_value, idle = state.assign.copy(), state.value, 0
    for _ in range(settings.kicks if problem.n_items > 1 else 0):
        if idle >= settings.patience or (settings.deadline is not None and time.time() >= settings.deadline):
            break
        if _kick(state, rng, settings):
            moves += _local_search(state, rng.permutation(problem.n_items), settings.swap_limit)
            if state.value < best_value - IMPROVEMENT:
                best, best_value, idle = state.assign.copy(), state.value, 0
                continue
        idle += 1
        _restore(state, best)
        state.value = best_value
    return best, best_value, moves


def run_start(
    problem: PlacementProblem, settings: SearchSettings, start: int, initial: tuple[int, ...] | None = None
) -> StartOutcome:
    """One independent start: construction (or ``initial``), local search, perturbations."""
    rng = np.random.default_rng([settings.seed, start])
    state = _State(problem)
    if initial is not None:
        _restore(state, np.asarray(initial, dtype=np.int64))
    else:
        flexibility = problem.allowed.sum(axis=1)
        root = int(np.argmin(flexibility)) if start == 0 else int(rng.integers(problem.n_items))
        if not _construct(
            state, root, None if start == 0 else rng, 1 if start == 0 else settings.greedy_choices
        ):
            return StartOutcome(start, None, float("inf"), 0)
    best, _, moves = _improve(state, rng, settings, np.flatnonzero(state.assign >= 0))
    return StartOutcome(start, tuple(int(p) for p in best), evaluate(problem, best).total, moves)


def search(
    problem: PlacementProblem,
    settings: SearchSettings = SearchSettings(),
    *,
    map_fn: MapFn = map,
    initial: np.ndarray | None = None,
) -> SearchOutcome:
    """Run all starts through ``map_fn`` and keep the lowest (objective, start index).

    With ``initial`` (a feasible assignment, e.g. from the MILP's feasibility fallback) every
    start improves that assignment instead of constructing its own.
    """
    seed = None if initial is None else tuple(int(p) for p in initial)
    task = functools.partial(run_start, problem, settings, initial=seed)
    outcomes = tuple(sorted(map_fn(task, range(settings.starts)), key=lambda o: o.start))
    feasible = [o for o in outcomes if o.assignment is not None]
    if not feasible:
        return SearchOutcome(None, float("inf"), outcomes)
    best = min(feasible, key=lambda o: (round(o.objective, 12), o.start))
    return SearchOutcome(np.array(best.assignment, dtype=np.int64), best.objective, outcomes)
