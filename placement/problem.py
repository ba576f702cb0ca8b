"""Compile (service, substrate, policy) into one numeric placement problem shared by all solvers.

The exact MILP, the fast search, the objective evaluator and the feasibility checker all read
the same :class:`PlacementProblem`, so "exact and fast agree" compares two algorithms on one
model rather than two models.

What gets placed is an :class:`Item`: the deployment units that must share a PoP — all units of
a VNF when ``vnf_single_pop`` (SONATA's default), else each unit alone. Per item and PoP the
``allowed`` matrix already folds in every *unary* rule: unit type = PoP type, customer
blacklist, pins, the item fitting the PoP's free cores and memory on its own, and latency and
bandwidth to fixed ingress/egress locations. What remains for the solvers are the *coupling*
rules: shared PoP capacity, latency between items on different PoPs, WAN bandwidth shared by
all virtual links, and the objective.

Objective data (see :mod:`placement.objective`): per-PoP load base and coefficients for the
load-dispersion objective, per-PoP priority ranks, per item/PoP proximity scores towards the
ingress/egress naps, item pairs with affinity weights and the PoPs' location keys.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

from placement import feasibility, proximity
from placement.errors import PlacementError
from placement.network import Network
from placement.policy import OperatorPolicy, PlacementPolicy
from placement.service import EndpointRole, ServiceGraph
from placement.substrate import PopType, Substrate

LOG = logging.getLogger(__name__)
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Item:
    """Deployment units that must land on one PoP, with their summed requirements."""

    index: int
    vnf_id: str
    unit_ids: tuple[str, ...]
    platform: PopType
    cores: float
    memory: float
    split: bool = False  # True when the VNF's units are placed one by one

    @property
    def label(self) -> str:
        """Name for messages: the VNF, plus the unit when the VNF was split."""
        if self.split:
            return f"VNF {self.vnf_id!r} (unit {self.unit_ids[0].split('/', 1)[-1]})"
        return f"VNF {self.vnf_id!r}"


@dataclass(frozen=True)
class ItemDemand:
    """QoS between two items (aggregated over their virtual links): Mbps and ms bound."""

    a: int
    b: int
    bandwidth: float
    max_latency: float
    links: tuple[str, ...]


@dataclass(frozen=True)
class EndpointDemand:
    """QoS between an item and a fixed substrate node (an ingress/egress location)."""

    item: int
    node: int
    bandwidth: float
    max_latency: float
    links: tuple[str, ...]
    location: str


@dataclass(frozen=True)
class Affinity:
    """Developer wish to keep items ``a`` and ``b`` close (closeness × weight is rewarded)."""

    a: int
    b: int
    weight: float


@dataclass(frozen=True, eq=False)
class PlacementProblem:
    """The compiled problem (arrays indexed by item and by PoP; see module docstring)."""

    items: tuple[Item, ...]
    pop_ids: tuple[str, ...]
    pop_labels: tuple[str, ...]
    free_cores: np.ndarray
    free_memory: np.ndarray
    allowed: np.ndarray  # bool [items, pops]
    item_cores: np.ndarray
    item_memory: np.ndarray
    item_units: np.ndarray  # number of units per item (priority counts units)
    operator: OperatorPolicy
    in_load: np.ndarray  # bool [pops]: PoP takes part in load dispersion
    load_base: np.ndarray
    load_per_core: np.ndarray
    load_per_gb: np.ndarray
    priority: np.ndarray  # rank weight per PoP (higher = preferred)
    endpoint_score: np.ndarray  # developer closeness to naps [items, pops]
    affinities: tuple[Affinity, ...]
    location_keys: np.ndarray  # [LEVELS, pops]
    item_demands: tuple[ItemDemand, ...]
    endpoint_demands: tuple[EndpointDemand, ...]
    network: Network = field(repr=False)
    operator_weight: float = 1.0
    developer_weight: float = 0.0

    @property
    def n_items(self) -> int:
        """Number of items to place."""
        return len(self.items)

    @property
    def n_pops(self) -> int:
        """Number of PoPs."""
        return len(self.pop_ids)

    def with_weights(self, operator: float, developer: float) -> PlacementProblem:
        """The same problem with other objective multipliers (used for normalisation)."""
        return replace(self, operator_weight=float(operator), developer_weight=float(developer))

    def item_load(self, item: int) -> np.ndarray:
        """Load increment the item causes on each PoP (0 outside the load set)."""
        increment = self.item_cores[item] * self.load_per_core + self.item_memory[item] * self.load_per_gb
        return np.where(self.in_load, increment, 0.0)


def compile_problem(service: ServiceGraph, substrate: Substrate, policy: PlacementPolicy) -> PlacementProblem:
    """Build the numeric problem; raise precise errors for inputs no solver could place."""
    pops = substrate.pops
    if not pops:
        raise PlacementError("No attached VIMs: the substrate has no PoP")
    items = _items(service, policy.vnf_single_pop)
    network = Network(substrate.graph, [pop.uuid for pop in pops])
    unit_item = {unit: item.index for item in items for unit in item.unit_ids}
    item_demands, endpoint_demands = _demands(service, substrate, network, unit_item)
    loads = _load_model(pops)
    allowed = feasibility.unary_allowed(
        items, pops, policy, substrate, network, endpoint_demands, _pins(service, substrate, policy, items)
    )
    problem = PlacementProblem(
        items=items,
        pop_ids=tuple(p.uuid for p in pops),
        pop_labels=tuple(p.label for p in pops),
        free_cores=np.array([p.free_cores for p in pops]),
        free_memory=np.array([p.free_memory for p in pops]),
        allowed=allowed,
        item_cores=np.array([i.cores for i in items]),
        item_memory=np.array([i.memory for i in items]),
        item_units=np.array([len(i.unit_ids) for i in items], dtype=float),
        operator=policy.operator,
        in_load=loads[0],
        load_base=loads[1],
        load_per_core=loads[2],
        load_per_gb=loads[3],
        priority=_priority(pops, policy, substrate),
        endpoint_score=_endpoint_scores(service, items, pops),
        affinities=_affinities(service, items),
        location_keys=proximity.location_keys([p.endpoint for p in pops], [p.uuid for p in pops]),
        item_demands=item_demands,
        endpoint_demands=endpoint_demands,
        network=network,
        operator_weight=policy.weights.operator,
        developer_weight=policy.weights.developer,
    )
    feasibility.check_aggregate(problem)
    return problem


def _items(service: ServiceGraph, single_pop: bool) -> tuple[Item, ...]:
    items: list[Item] = []
    for vnf in service.vnfs:
        groups = [vnf.units] if single_pop else [(unit,) for unit in vnf.units]
        for group in groups:
            platforms = {unit.platform for unit in group}
            if len(platforms) > 1:
                feasibility.raise_mixed_platforms(vnf)
            items.append(
                Item(
                    len(items),
                    vnf.vnf_id,
                    tuple(u.id for u in group),
                    platforms.pop(),
                    sum(u.cores for u in group),
                    sum(u.memory for u in group),
                    split=not single_pop and len(vnf.units) > 1,
                )
            )
    return tuple(items)


def _pins(
    service: ServiceGraph, substrate: Substrate, policy: PlacementPolicy, items: tuple[Item, ...]
) -> dict[int, str]:
    """Item index → pinned PoP uuid, from pins on VNF ids or unit ids."""
    pinned: dict[int, str] = {}
    units = {u for item in items for u in item.unit_ids}
    for key, label in policy.predefined_mapping:
        pop = substrate.resolve_pop(label)
        if pop is None:
            raise PlacementError(f"predefined mapping {key!r} → {label!r}: no such PoP")
        if key in service.graph and "vnf" in service.graph.nodes[key]:
            targets = [item for item in items if item.vnf_id == key]
        elif key in units:
            targets = [item for item in items if key in item.unit_ids]
        else:
            raise PlacementError(f"predefined mapping names unknown VNF or unit {key!r}")
        for item in targets:
            if pinned.get(item.index, pop.uuid) != pop.uuid:
                feasibility.raise_conflicting_pins(item, pinned[item.index], pop.uuid)
            pinned[item.index] = pop.uuid
    return pinned


def _demands(
    service: ServiceGraph, substrate: Substrate, network: Network, unit_item: dict[str, int]
) -> tuple[tuple[ItemDemand, ...], tuple[EndpointDemand, ...]]:
    pairs: dict[tuple[int, int], list] = defaultdict(lambda: [0.0, np.inf, []])
    fixed: dict[tuple[int, str], list] = defaultdict(lambda: [0.0, np.inf, []])
    for link in service.links:
        if not link.has_qos:
            continue
        ends = []
        for end in (link.a, link.b):
            data = service.graph.nodes[end.node]
            ends.append(
                ("item", unit_item[end.unit or data["vnf"].units[0].id])
                if "vnf" in data
                else ("endpoint", data["endpoint"].location)
            )
        latency = np.inf if link.max_latency is None else link.max_latency
        kinds = {kind for kind, _ in ends}
        if kinds == {"item"}:
            a, b = sorted(value for _, value in ends)
            if a == b:
                continue  # both ends on one item: inside one PoP, always met
            slot = pairs[(a, b)]
        elif kinds == {"item", "endpoint"}:
            item = next(v for k, v in ends if k == "item")
            location = next(v for k, v in ends if k == "endpoint")
            slot = fixed[(item, location)]
        else:
            continue  # endpoint to endpoint: nothing to decide
        slot[0] += link.bandwidth
        slot[1] = min(slot[1], latency)
        slot[2].append(link.id)
    item_demands = tuple(ItemDemand(a, b, bw, lat, tuple(ids)) for (a, b), (bw, lat, ids) in pairs.items())
    endpoint_demands = []
    for (item, location), (bw, lat, ids) in fixed.items():
        node = substrate.resolve_node(location)
        if node is None:
            raise PlacementError(
                f"virtual link(s) {', '.join(ids)} need QoS towards the endpoint at "
                f"location {location!r}, which is no node of the substrate"
            )
        endpoint_demands.append(EndpointDemand(item, network.index[node], bw, lat, tuple(ids), location))
    return item_demands, tuple(endpoint_demands)


def _load_model(pops) -> tuple[np.ndarray, ...]:
    """Per PoP: in load set, base load, load per core, load per GB (mean of cpu and memory load)."""
    in_load, base, per_core, per_gb = [], [], [], []
    for pop in pops:
        parts = [(pop.cores_used, pop.cores_total, "c"), (pop.memory_used, pop.memory_total, "m")]
        parts = [p for p in parts if p[1] > 0] if pop.pop_type is PopType.VM else []
        in_load.append(bool(parts))
        k = len(parts) or 1
        base.append(sum(used / total for used, total, _ in parts) / k)
        per_core.append(sum(1 / (k * total) for _, total, kind in parts if kind == "c"))
        per_gb.append(sum(1 / (k * total) for _, total, kind in parts if kind == "m"))
    return np.array(in_load), np.array(base), np.array(per_core), np.array(per_gb)


def _priority(pops, policy: PlacementPolicy, substrate: Substrate) -> np.ndarray:
    """Rank weight: the i-th of n listed PoPs gets n - i (first = n, last = 1); unlisted PoPs 0."""
    rank = np.zeros(len(pops))
    index = {pop.uuid: i for i, pop in enumerate(pops)}
    listed = policy.priority_list
    for position, label in enumerate(listed):
        pop = substrate.resolve_pop(label)
        if pop is None:
            LOG.warning("priority list names unknown PoP %r; ignored", label)
            continue
        rank[index[pop.uuid]] = max(rank[index[pop.uuid]], len(listed) - position)
    return rank


def _soft_actor_items(service: ServiceGraph, items: tuple[Item, ...], actor: str) -> list[tuple[int, float]]:
    """Items of a VNF actor with their share of its units (1.0 when the VNF is one item)."""
    if actor in service.graph and "vnf" in service.graph.nodes[actor]:
        total = len(service.vnf(actor).units)
        return [(item.index, len(item.unit_ids) / total) for item in items if item.vnf_id == actor]
    return []


def _endpoint_scores(service: ServiceGraph, items: tuple[Item, ...], pops) -> np.ndarray:
    """Σ over proximity wishes (endpoint, VNF) of mean closeness of the PoP to the role's naps."""
    score = np.zeros((len(items), len(pops)))
    endpoints = [pop.endpoint for pop in pops]
    for constraint in service.soft_constraints:
        roles = [EndpointRole.from_actor(a) if a not in service.graph else None for a in constraint.actors]
        for role, other in ((roles[0], constraint.actors[1]), (roles[1], constraint.actors[0])):
            points = service.endpoints_with_role(role) if role else ()
            if not points:
                continue  # SONATA: a wish towards a missing nap is useless
            closeness = np.mean([proximity.closeness_to_address(endpoints, p.nap) for p in points], axis=0)
            for index, share in _soft_actor_items(service, items, other):
                score[index] += constraint.weight * share * closeness
    return score


def _affinities(service: ServiceGraph, items: tuple[Item, ...]) -> tuple[Affinity, ...]:
    """Item pairs of VNF–VNF wishes; units of one item always score the maximum anyway."""
    found: dict[tuple[int, int], float] = defaultdict(float)
    for constraint in service.soft_constraints:
        first, second = (_soft_actor_items(service, items, a) for a in constraint.actors)
        for (i, share_i), (j, share_j) in ((x, y) for x in first for y in second):
            if i != j:
                found[(min(i, j), max(i, j))] += constraint.weight * share_i * share_j
    return tuple(Affinity(a, b, w) for (a, b), w in found.items())
