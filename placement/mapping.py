"""The result of a placement, and a checker that re-verifies any assignment against the model.

:class:`Mapping` is SONATA's ``mapping{du{vnf_id: vim}}`` made richer: the PoP of every
deployment unit and of every VNF, the WAN route of every virtual link with QoS, the objective
value and its parts, and which solver produced it in how long. It is a frozen dataclass of
plain dicts and tuples, so it pickles across Ray and serialises to JSON (:meth:`to_dict`).

:func:`violations` recomputes capacity, pins, allowed PoPs, latency and bandwidth for an
assignment from the compiled problem; every solver's answer is passed through it before it is
returned, so a solver bug surfaces as an error instead of a wrong deployment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from placement.problem import PlacementProblem

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Mapping:
    """Where everything goes. Treat the dicts as read-only."""

    vnfs: dict[str, str]  # vnf id → PoP uuid (first unit's PoP if split)
    units: dict[str, str]  # unit id → PoP uuid
    link_routes: dict[str, tuple[str, ...]]  # QoS link ids → WAN node route ("" if inside a PoP)
    objective: float
    operator_objective: float
    developer_objective: float
    solver: str
    solve_seconds: float
    optimal: bool = False
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        data = asdict(self)
        data["link_routes"] = {k: list(v) for k, v in self.link_routes.items()}
        return data


def build_mapping(
    problem: PlacementProblem,
    assignment: np.ndarray,
    value,
    *,
    solver: str,
    seconds: float,
    optimal: bool,
    stats: dict | None = None,
) -> Mapping:
    """Translate an item assignment into a :class:`Mapping`."""
    units, vnfs = {}, {}
    for item in problem.items:
        pop = problem.pop_ids[int(assignment[item.index])]
        for unit in item.unit_ids:
            units[unit] = pop
        vnfs.setdefault(item.vnf_id, pop)
    routes = {}
    network = problem.network
    for demand in problem.item_demands:
        p, q = int(assignment[demand.a]), int(assignment[demand.b])
        route = _route_nodes(network, int(network.pop_node[p]), int(network.pop_node[q]))
        for link in demand.links:
            routes[link] = route
    for demand in problem.endpoint_demands:
        p = int(assignment[demand.item])
        route = _route_nodes(network, demand.node, int(network.pop_node[p]))
        for link in demand.links:
            routes[link] = route
    return Mapping(
        vnfs,
        units,
        routes,
        value.total,
        value.operator,
        value.developer,
        solver,
        seconds,
        optimal,
        dict(stats or {}),
    )


def _route_nodes(network, src: int, dst: int) -> tuple[str, ...]:
    if src == dst:
        return (network.nodes[src],)
    pred = network._row(src)[1]
    nodes, node = [dst], dst
    while node != src:
        node = int(pred[node])
        nodes.append(node)
    return tuple(network.nodes[n] for n in reversed(nodes))


def wan_usage(problem: PlacementProblem, assignment: np.ndarray) -> np.ndarray:
    """Bandwidth reserved on every WAN link by the QoS virtual links of ``assignment``."""
    usage = np.zeros(len(problem.network.capacity))
    network = problem.network
    routes = [
        (int(network.pop_node[assignment[d.a]]), int(network.pop_node[assignment[d.b]]), d.bandwidth)
        for d in problem.item_demands
        if d.bandwidth > 0
    ]
    routes += [
        (d.node, int(network.pop_node[assignment[d.item]]), d.bandwidth)
        for d in problem.endpoint_demands
        if d.bandwidth > 0
    ]
    for src, dst, bandwidth in routes:
        if np.isfinite(network.node_latencies(src)[dst]):  # unroutable pairs are reported apart
            for edge in network.path_edges(src, dst):
                usage[edge] += bandwidth
    return usage


def violations(problem: PlacementProblem, assignment) -> list[str]:
    """Every broken rule of ``assignment`` (item → PoP index); empty when feasible."""
    assignment = np.asarray(assignment, dtype=np.int64)
    found = []
    if assignment.shape != (problem.n_items,):
        return [f"assignment has shape {assignment.shape}, expected ({problem.n_items},)"]
    for item in problem.items:
        if not problem.allowed[item.index, assignment[item.index]]:
            found.append(f"{item.label} on a PoP it may not use ({problem.pop_ids[assignment[item.index]]})")
    cores = np.bincount(assignment, weights=problem.item_cores, minlength=problem.n_pops)
    memory = np.bincount(assignment, weights=problem.item_memory, minlength=problem.n_pops)
    for p in np.flatnonzero((cores > problem.free_cores + TOLERANCE) & (cores > 0)):
        found.append(f"{problem.pop_ids[p]}: {cores[p]:g} cores placed, {problem.free_cores[p]:g} free")
    for p in np.flatnonzero((memory > problem.free_memory + TOLERANCE) & (memory > 0)):
        found.append(f"{problem.pop_ids[p]}: {memory[p]:g} GB placed, {problem.free_memory[p]:g} free")
    for demand in problem.item_demands:
        p, q = int(assignment[demand.a]), int(assignment[demand.b])
        latency = 0.0 if p == q else float(problem.network.pop_latencies(p)[q])
        if not np.isfinite(latency):
            found.append(
                f"links {demand.links}: no WAN route between {problem.pop_ids[p]} and {problem.pop_ids[q]}"
            )
        elif latency > demand.max_latency + TOLERANCE:
            found.append(f"links {demand.links}: latency {latency:g} ms > {demand.max_latency:g} ms")
    over = wan_usage(problem, assignment) - problem.network.capacity
    for edge in np.flatnonzero(over > TOLERANCE):
        a, b = problem.network.edge_ends[edge]
        found.append(f"WAN link {a}–{b}: {over[edge]:g} Mbps over capacity")
    return found
