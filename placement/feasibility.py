"""Feasibility checks that name the culprit: which resource, which PoP, which VNF, which link.

Three layers, cheapest first:

1. *Unary* (:func:`unary_allowed`): for every item and PoP, the first rule that forbids the
   pair — blacklist, pin, PoP type, free cores, free memory, latency or bandwidth to a fixed
   ingress/egress location. An item with no allowed PoP fails here with one reason per PoP
   ("Aveiro has 2 cores free, VNF x needs 4").
2. *Aggregate* (:func:`check_aggregate`): sums that no assignment can beat — total cores or
   memory of the service vs. the free capacity of the PoPs it may use, PoPs overloaded by
   pinned VNFs, and item pairs whose latency/bandwidth wish no pair of allowed PoPs meets.
3. *Joint* (:func:`explain_joint_infeasibility`): when the solver proves that no mapping
   exists although every check above passed, re-solve with constraint groups switched off
   (cores only, memory only, + latency, + bandwidth) and then drop one virtual-link demand at
   a time, to report the binding resource and the links that cannot be met together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from placement.errors import InfeasibilityReason, InfeasibleRequestError, Resource

if TYPE_CHECKING:  # pragma: no cover - typing only
    from placement.problem import Item, PlacementProblem

TOLERANCE = 1e-9
PAIR_CHECK_LIMIT = 300  # item-pair latency pre-check only when allowed sets are small


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def raise_mixed_platforms(vnf) -> None:
    """A single-PoP VNF mixing VM and container units can land nowhere."""
    kinds = sorted({unit.platform.value for unit in vnf.units})
    raise InfeasibleRequestError(
        [
            InfeasibilityReason(
                Resource.POP_TYPE,
                f"VNF {vnf.vnf_id!r} mixes {' and '.join(kinds)} units, but vnf_single_pop "
                "requires one PoP and a PoP is either vm or container",
                vnf=vnf.vnf_id,
            )
        ]
    )


def raise_conflicting_pins(item: Item, first: str, second: str) -> None:
    """Two pins put units of one single-PoP item on different PoPs."""
    raise InfeasibleRequestError(
        [
            InfeasibilityReason(
                Resource.PIN,
                f"{item.label} is pinned to both {first} and {second}",
                vnf=item.vnf_id,
                pop=second,
            )
        ]
    )


def unary_allowed(
    items, pops, policy, substrate, network, endpoint_demands, pins: dict[int, str]
) -> np.ndarray:
    """Boolean [items, pops]: pairs that pass every unary rule; raises if an item has none."""
    blacklisted = np.array([any(pop.answers_to(label) for label in policy.blacklist) for pop in pops])
    platform = np.array([pop.pop_type.value for pop in pops])
    free_cores = np.array([pop.free_cores for pop in pops])
    free_memory = np.array([pop.free_memory for pop in pops])
    allowed = np.zeros((len(items), len(pops)), dtype=bool)
    for item in items:
        rules = _unary_rules(
            item,
            pops,
            blacklisted,
            platform,
            free_cores,
            free_memory,
            network,
            [d for d in endpoint_demands if d.item == item.index],
            pins,
        )
        allowed[item.index] = np.logical_and.reduce([ok for ok, _ in rules])
        if not allowed[item.index].any():
            _raise_no_pop(item, pops, rules, pins.get(item.index))
    return allowed


def _unary_rules(item, pops, blacklisted, platform, free_cores, free_memory, network, demands, pins):
    """(ok-vector, reason-builder) per rule, in the order reasons are reported."""
    pinned = pins.get(item.index)
    rules = [
        (
            ~blacklisted,
            lambda p: InfeasibilityReason(
                Resource.BLACKLIST,
                f"{pops[p].label} is blacklisted by the customer",
                item.vnf_id,
                pops[p].uuid,
            ),
        ),
        (
            np.array([pinned is None or pop.uuid == pinned for pop in pops]),
            lambda p: InfeasibilityReason(
                Resource.PIN, f"{item.label} is pinned to {pinned}", item.vnf_id, pops[p].uuid
            ),
        ),
        (
            platform == item.platform.value,
            lambda p: InfeasibilityReason(
                Resource.POP_TYPE,
                f"{pops[p].label} is a {platform[p]} PoP, {item.label} needs {item.platform.value}",
                item.vnf_id,
                pops[p].uuid,
            ),
        ),
        (
            free_cores + TOLERANCE >= item.cores,
            lambda p: InfeasibilityReason(
                Resource.CORES,
                f"{pops[p].label} has {_fmt(free_cores[p])} cores free, {item.label} needs "
                f"{_fmt(item.cores)}",
                item.vnf_id,
                pops[p].uuid,
                None,
                item.cores,
                float(free_cores[p]),
            ),
        ),
        (
            free_memory + TOLERANCE >= item.memory,
            lambda p: InfeasibilityReason(
                Resource.MEMORY,
                f"{pops[p].label} has {_fmt(free_memory[p])} GB memory free, {item.label} needs "
                f"{_fmt(item.memory)} GB",
                item.vnf_id,
                pops[p].uuid,
                None,
                item.memory,
                float(free_memory[p]),
            ),
        ),
    ]
    for demand in demands:
        latency = network.pop_latencies_from_node(demand.node)
        rules.append(
            (
                latency <= demand.max_latency + TOLERANCE,
                _endpoint_reason(
                    Resource.LATENCY, item, pops, demand, latency, f"≤ {_fmt(demand.max_latency)} ms", "ms"
                ),
            )
        )
        if demand.bandwidth > 0:
            width = network.pop_bottlenecks_from_node(demand.node)
            rules.append(
                (
                    width + TOLERANCE >= demand.bandwidth,
                    _endpoint_reason(
                        Resource.BANDWIDTH,
                        item,
                        pops,
                        demand,
                        width,
                        f"{_fmt(demand.bandwidth)} Mbps",
                        "Mbps",
                    ),
                )
            )
    return rules


def _endpoint_reason(resource, item, pops, demand, values, wanted, unit):
    def build(p: int) -> InfeasibilityReason:
        have = (
            "unreachable"
            if resource is Resource.LATENCY and not np.isfinite(values[p])
            else f"{_fmt(values[p])} {unit}"
        )
        what = "route latency" if resource is Resource.LATENCY else "route bandwidth"
        required = demand.max_latency if resource is Resource.LATENCY else demand.bandwidth
        return InfeasibilityReason(
            resource,
            f"virtual link(s) {', '.join(demand.links)} need {wanted} between {item.label} and "
            f"the endpoint at {demand.location}; {what} from {pops[p].label} is {have}",
            item.vnf_id,
            pops[p].uuid,
            ", ".join(demand.links),
            required,
            float(values[p]),
        )

    return build


def _raise_no_pop(item, pops, rules, pinned: str | None) -> None:
    reasons = []
    for p, pop in enumerate(pops):
        if pinned is not None and pop.uuid != pinned:
            continue  # only the pinned PoP matters for a pinned item
        for ok, build in rules:
            if not ok[p]:
                reasons.append(build(p))
                break
    what = f"{item.label} ({_fmt(item.cores)} cores, {_fmt(item.memory)} GB, {item.platform.value})"
    headline = f"{what} cannot be placed on its pinned PoP {pinned}" if pinned else f"{what} fits on no PoP"
    raise InfeasibleRequestError(reasons, headline)


def check_aggregate(problem: PlacementProblem) -> None:
    """Raise when totals, pins or item-pair QoS make every assignment infeasible."""
    reasons = _total_capacity_reasons(problem) + _pinned_overload_reasons(problem)
    if not reasons:
        reasons = _pair_qos_reasons(problem)
    if reasons:
        raise InfeasibleRequestError(reasons)


def _total_capacity_reasons(problem: PlacementProblem) -> list[InfeasibilityReason]:
    reasons = []
    usable = problem.allowed.any(axis=0)
    for resource, need, free, unit in (
        (Resource.CORES, problem.item_cores, problem.free_cores, "cores"),
        (Resource.MEMORY, problem.item_memory, problem.free_memory, "GB memory"),
    ):
        total_need = float(need.sum())
        total_free = float(np.clip(free[usable], 0, None).sum())
        if total_need > total_free + TOLERANCE:
            reasons.append(
                InfeasibilityReason(
                    resource,
                    f"the service needs {_fmt(total_need)} {unit} in total, the "
                    f"{int(usable.sum())} PoP(s) it may use have {_fmt(total_free)} free",
                    required=total_need,
                    available=total_free,
                )
            )
    return reasons


def _pinned_overload_reasons(problem: PlacementProblem) -> list[InfeasibilityReason]:
    reasons = []
    only = problem.allowed.sum(axis=1) == 1
    for p in np.flatnonzero(problem.allowed[only].sum(axis=0) > 1).tolist():  # the only PoP of 2+ items
        stuck = np.flatnonzero(only & problem.allowed[:, p])
        for resource, need, free, unit in (
            (Resource.CORES, problem.item_cores, problem.free_cores, "cores"),
            (Resource.MEMORY, problem.item_memory, problem.free_memory, "GB"),
        ):
            total = float(need[stuck].sum())
            if len(stuck) > 1 and total > free[p] + TOLERANCE:
                names = ", ".join(problem.items[i].vnf_id for i in stuck)
                reasons.append(
                    InfeasibilityReason(
                        resource,
                        f"{problem.pop_labels[p]} is the only PoP left for {names}; together they "
                        f"need {_fmt(total)} {unit}, it has {_fmt(free[p])} free",
                        vnf=names,
                        pop=problem.pop_ids[p],
                        required=total,
                        available=float(free[p]),
                    )
                )
    return reasons


def _pair_qos_reasons(problem: PlacementProblem) -> list[InfeasibilityReason]:
    """Item pairs whose latency bound no pair of allowed PoPs meets (bandwidth ignored here)."""
    reasons = []
    for demand in problem.item_demands:
        if not np.isfinite(demand.max_latency):
            continue
        first = np.flatnonzero(problem.allowed[demand.a])
        second = np.flatnonzero(problem.allowed[demand.b])
        if len(first) > PAIR_CHECK_LIMIT or len(second) > PAIR_CHECK_LIMIT:
            continue
        both = first[np.isin(first, second)]
        if any(
            problem.item_cores[[demand.a, demand.b]].sum() <= problem.free_cores[p] + TOLERANCE
            and problem.item_memory[[demand.a, demand.b]].sum() <= problem.free_memory[p] + TOLERANCE
            for p in both
        ):
            continue
        best, where = np.inf, None
        for p in first:
            row = problem.network.pop_latencies(int(p))[second]
            row = np.where(second == p, np.inf, row)  # co-location was ruled out above
            if row.size and row.min() < best:
                best, where = float(row.min()), (int(p), int(second[row.argmin()]))
        if best > demand.max_latency + TOLERANCE:
            a, b = problem.items[demand.a], problem.items[demand.b]
            gap = (
                "no route joins any allowed pair of PoPs"
                if where is None or not np.isfinite(best)
                else f"the closest allowed PoPs ({problem.pop_labels[where[0]]}, "
                f"{problem.pop_labels[where[1]]}) are {_fmt(best)} ms apart"
            )
            reasons.append(
                InfeasibilityReason(
                    Resource.LATENCY,
                    f"virtual link(s) {', '.join(demand.links)} need ≤ {_fmt(demand.max_latency)} "
                    f"ms between {a.label} and {b.label}, which cannot share a PoP; {gap}",
                    vnf=f"{a.vnf_id}, {b.vnf_id}",
                    link=", ".join(demand.links),
                    required=demand.max_latency,
                    available=best,
                )
            )
    return reasons


FeasibleOracle = Callable[..., bool]


def explain_joint_infeasibility(
    problem: PlacementProblem, is_feasible: FeasibleOracle
) -> InfeasibleRequestError:
    """Find the binding constraint group and links; ``is_feasible(problem, **groups)`` decides.

    ``groups`` are booleans ``cores``, ``memory``, ``latency``, ``bandwidth`` and ``demands`` (a
    set of item-demand indices to keep); the oracle is the exact solver without objective.
    """
    everything = set(range(len(problem.item_demands)))
    packing = dict(latency=False, bandwidth=False, demands=set())
    if not is_feasible(problem, cores=True, memory=True, **packing):
        return _packing_error(problem, is_feasible, packing)
    for resource, groups in (
        (Resource.LATENCY, dict(latency=True, bandwidth=False)),
        (Resource.BANDWIDTH, dict(latency=True, bandwidth=True)),
    ):
        if is_feasible(problem, cores=True, memory=True, demands=everything, **groups):
            continue
        culprits = [
            d
            for d in sorted(everything)
            if is_feasible(problem, cores=True, memory=True, demands=everything - {d}, **groups)
        ]
        return InfeasibleRequestError(
            _link_reasons(problem, resource, culprits or sorted(everything)),
            f"no mapping meets every {resource.value} requirement together with PoP capacity",
        )
    return InfeasibleRequestError(
        [InfeasibilityReason(Resource.PACKING, "no mapping satisfies all constraints together")]
    )


def _packing_error(problem, is_feasible, packing) -> InfeasibleRequestError:
    usable = np.flatnonzero(problem.allowed.any(axis=0))
    names = ", ".join(problem.pop_labels[p] for p in usable[:8]) + (" ..." if len(usable) > 8 else "")
    if not is_feasible(problem, cores=True, memory=False, **packing):
        resource, need, free, unit = Resource.CORES, problem.item_cores, problem.free_cores, "cores"
    elif not is_feasible(problem, cores=False, memory=True, **packing):
        resource, need, free, unit = Resource.MEMORY, problem.item_memory, problem.free_memory, "GB memory"
    else:
        return InfeasibleRequestError(
            [
                InfeasibilityReason(
                    Resource.PACKING, f"cores and memory together: the VNFs cannot be packed onto {names}"
                )
            ]
        )
    sizes = " + ".join(_fmt(x) for x in need)
    frees = ", ".join(f"{problem.pop_labels[p]}: {_fmt(free[p])}" for p in usable[:8])
    return InfeasibleRequestError(
        [
            InfeasibilityReason(
                resource,
                f"each VNF fits alone, but not all together: they need {sizes} {unit} and the PoPs they "
                f"may use have {frees} {unit} free",
                required=float(need.sum()),
                available=float(np.clip(free[usable], 0, None).sum()),
            )
        ]
    )


def _widest_route(problem, demand) -> tuple[float, str]:
    """Largest route bandwidth between two distinct PoPs the demand's items may use."""
    first, second = np.flatnonzero(problem.allowed[demand.a]), np.flatnonzero(problem.allowed[demand.b])
    if len(first) > PAIR_CHECK_LIMIT or len(second) > PAIR_CHECK_LIMIT:
        return float("nan"), ""
    best, where = 0.0, ""
    for p in first:
        width = problem.network.pop_bottlenecks_from_node(int(problem.network.pop_node[p]))[second]
        width = np.where(second == p, 0.0, width)
        if width.size and width.max() > best:
            best = float(width.max())
            where = f"{problem.pop_labels[p]} – {problem.pop_labels[second[width.argmax()]]}"
    return best, where


def _link_reasons(problem, resource, culprits) -> list[InfeasibilityReason]:
    reasons = []
    for index in culprits:
        demand = problem.item_demands[index]
        a, b = problem.items[demand.a], problem.items[demand.b]
        bound = f"≤ {_fmt(demand.max_latency)} ms" if np.isfinite(demand.max_latency) else ""
        if resource is Resource.LATENCY:
            wanted, required, available, detail = bound, demand.max_latency, None, ""
        else:
            wanted = f"{_fmt(demand.bandwidth)} Mbps" + (f" within {bound}" if bound else "")
            required = demand.bandwidth
            available, where = _widest_route(problem, demand)
            detail = (
                f"; the widest route between PoPs they may use ({where}) has {_fmt(available)} Mbps, "
                "shared with the other links"
                if where
                else ""
            )
        reasons.append(
            InfeasibilityReason(
                resource,
                f"virtual link(s) {', '.join(demand.links)} between {a.label} and {b.label} need "
                f"{wanted}, which cannot be met together with the other requirements{detail}",
                vnf=f"{a.vnf_id}, {b.vnf_id}",
                link=", ".join(demand.links),
                required=required,
                available=available,
            )
        )
    return reasons
