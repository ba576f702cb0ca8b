"""Helpers of the placement suite: an independent mapping checker and a brute-force enumerator.

Both re-derive every rule from the *inputs* (service, substrate, policy) with plain networkx,
independently of ``placement.problem``, so the property tests do not merely re-run the engine's
own bookkeeping. Imported by the test modules (this directory is on ``sys.path`` under pytest).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from placement import ObjectiveWeights, OperatorPolicy, PlacementPolicy, Pop, PopType, Substrate
from placement.service import (
    DeploymentUnit,
    Endpoint,
    EndpointRole,
    LinkEnd,
    ServiceGraph,
    SoftConstraint,
    SoftConstraintKind,
    VirtualLink,
    Vnf,
)

REPO = Path(__file__).resolve().parents[2]
CASES_FILE = REPO / "tests" / "data" / "sonata" / "placement" / "cases.yml"
TOLERANCE = 1e-6

#: hypothesis settings of the property tests (applied per test, never as a global profile)
PROPERTY_SETTINGS = settings(
    deadline=None, max_examples=120, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def load_cases() -> list[dict]:
    """The cases of cases.yml (empty list if the file is missing; the ``cases_file`` fixture fails then)."""
    return yaml.safe_load(CASES_FILE.read_text()) if CASES_FILE.is_file() else []


class Routes:
    """All-pairs minimum-latency routes of a substrate, by plain networkx."""

    def __init__(self, substrate):
        self.latency, self.path = {}, {}
        for node, (dist, paths) in nx.all_pairs_dijkstra(substrate.graph, weight="latency"):
            self.latency[node], self.path[node] = dist, paths

    def between(self, a: str, b: str) -> tuple[float, list[str] | None]:
        if a == b:
            return 0.0, [a]
        return self.latency[a].get(b, float("inf")), self.path[a].get(b)


def _end_node(service, unit_pop: dict[str, str], end) -> str:
    data = service.graph.nodes[end.node]
    if "vnf" in data:
        return unit_pop[end.unit or data["vnf"].units[0].id]
    return data["endpoint"].location


def check_mapping(
    service, substrate, policy, unit_pop: dict[str, str], routes: Routes | None = None
) -> list[str]:
    """Every rule ``unit_pop`` breaks, derived from the inputs alone (empty when valid)."""
    problems = []
    pops = {pop.uuid: pop for pop in substrate.pops}
    used: dict[str, list[float]] = {uuid: [0.0, 0.0] for uuid in pops}
    pins = dict(policy.predefined_mapping)
    for vnf in service.vnfs:
        if policy.vnf_single_pop and len({unit_pop[u.id] for u in vnf.units}) > 1:
            problems.append(f"{vnf.vnf_id} split over PoPs")
        for unit in vnf.units:
            pop = pops[unit_pop[unit.id]]
            used[pop.uuid][0] += unit.cores
            used[pop.uuid][1] += unit.memory
            if pop.pop_type is not unit.platform:
                problems.append(f"{unit.id} ({unit.platform.value}) on {pop.pop_type.value} PoP {pop.uuid}")
            if any(pop.answers_to(label) for label in policy.blacklist):
                problems.append(f"{unit.id} on blacklisted {pop.uuid}")
            pin = pins.get(unit.id, pins.get(vnf.vnf_id))
            if pin is not None and not pop.answers_to(pin):
                problems.append(f"{unit.id} on {pop.uuid}, pinned to {pin}")
    for uuid, (cores, memory) in used.items():
        if cores > pops[uuid].free_cores + TOLERANCE and cores > 0:
            problems.append(f"{uuid}: {cores} cores > {pops[uuid].free_cores} free")
        if memory > pops[uuid].free_memory + TOLERANCE and memory > 0:
            problems.append(f"{uuid}: {memory} GB > {pops[uuid].free_memory} free")
    wan: dict[frozenset, float] = {}
    routes = routes or Routes(substrate)
    for link in service.links:
        a, b = _end_node(service, unit_pop, link.a), _end_node(service, unit_pop, link.b)
        latency, path = routes.between(a, b)
        if link.max_latency is not None and latency > link.max_latency + TOLERANCE:
            problems.append(f"link {link.id}: {a}–{b} latency {latency} > {link.max_latency}")
        if link.bandwidth > 0 and a != b:
            if path is None:
                problems.append(f"link {link.id}: no route {a}–{b}")
                continue
            for u, v in zip(path, path[1:]):
                wan[frozenset((u, v))] = wan.get(frozenset((u, v)), 0.0) + link.bandwidth
    for edge, load in wan.items():
        u, v = tuple(edge)
        if load > substrate.graph.edges[u, v]["bandwidth"] + TOLERANCE:
            problems.append(f"WAN {u}–{v}: {load} Mbps > {substrate.graph.edges[u, v]['bandwidth']}")
    return problems


def brute_force_feasible(service, substrate, policy) -> list[dict[str, str]]:
    """All valid unit→PoP mappings, by enumeration (tiny instances only)."""
    units = service.units
    uuids = [pop.uuid for pop in substrate.pops]
    groups = [vnf.units for vnf in service.vnfs] if policy.vnf_single_pop else [(u,) for u in units]
    found = []
    routes = Routes(substrate)
    for choice in itertools.product(uuids, repeat=len(groups)):
        unit_pop = {unit.id: pop for group, pop in zip(groups, choice) for unit in group}
        if not check_mapping(service, substrate, policy, unit_pop, routes):
            found.append(unit_pop)
    return found


# --- hypothesis strategy: tiny random instances (brute force stays ≤ 5^4 mappings) ---------------
@st.composite
def tiny_instances(draw):
    """(service, substrate, policy) with 2–5 PoPs, 1–4 VNFs, latency/bandwidth links, pins, blacklist.

    WAN latencies are an integer plus a distinct power of two below 1/8, so no two routes tie and
    the checker's networkx route is the engine's route.
    """
    n_pops = draw(st.integers(2, 5))
    pops = []
    for k in range(n_pops):
        total = float(draw(st.sampled_from([4, 8, 16])))
        pops.append(
            Pop(
                f"p{k}",
                name=f"P{k}",
                city=f"C{k % 3}",
                pop_type=draw(st.sampled_from([PopType.VM] * 5 + [PopType.CONTAINER])),
                cores_total=total,
                cores_used=float(draw(st.integers(0, int(total) * 3 // 4))),
                memory_total=total,
                memory_used=float(draw(st.integers(0, int(total) * 3 // 4))),
                endpoint=f"10.{draw(st.integers(0, 1))}.{draw(st.integers(0, 1))}.{k}",
            )
        )
    links = []
    for k in range(1, n_pops):
        if draw(st.booleans()) or k == 1:
            links.append(
                (
                    f"p{draw(st.integers(0, k - 1))}",
                    f"p{k}",
                    float(draw(st.sampled_from([50, 100, 1000]))),
                    draw(st.integers(1, 9)) + 2.0 ** -(k + 3),
                )
            )
    substrate = Substrate.from_pops(pops, links)
    single_pop = draw(st.booleans())
    n_vnfs = draw(st.integers(2, 4) if single_pop else st.integers(1, 2))
    vnfs = []
    for v in range(n_vnfs):
        container = any(p.pop_type is PopType.CONTAINER for p in pops) and draw(st.integers(0, 5)) == 0
        vnfs.append(
            Vnf(
                f"v{v}",
                tuple(
                    DeploymentUnit(
                        f"v{v}/u{u}",
                        f"v{v}",
                        f"u{u}",
                        PopType.CONTAINER if container else PopType.VM,
                        0.0 if container else float(draw(st.integers(0, 4))),
                        0.0 if container else float(draw(st.integers(0, 4))),
                    )
                    for u in range(draw(st.integers(1, 2)))
                ),
            )
        )
    ingress = Endpoint(
        "ingress:0",
        EndpointRole.INGRESS,
        location=f"p{draw(st.integers(0, n_pops - 1))}",
        nap=f"10.{draw(st.integers(0, 1))}.0.9",
    )
    vlinks = [
        VirtualLink(
            f"l{v}",
            LinkEnd(f"v{v}", f"v{v}/u0"),
            LinkEnd(f"v{v + 1}", f"v{v + 1}/u0"),
            float(draw(st.sampled_from([0, 0, 40, 80]))),
            draw(st.sampled_from([None, None, 6.0, 12.0, 20.0])),
        )
        for v in range(n_vnfs - 1)
    ]
    vlinks.append(
        VirtualLink(
            "in",
            LinkEnd("ingress:0"),
            LinkEnd("v0", "v0/u0"),
            0.0,
            draw(st.sampled_from([None, None, None, 10.0, 20.0])),
        )
    )
    wishes = [SoftConstraint(SoftConstraintKind.PROXIMITY, ("source", "v0"))]
    if n_vnfs > 1:
        wishes.append(SoftConstraint(SoftConstraintKind.AFFINITY, ("v0", f"v{n_vnfs - 1}")))
    service = ServiceGraph.build(vnfs, [ingress], vlinks, wishes)
    uuids = [p.uuid for p in pops]
    pins = (("v0", draw(st.sampled_from(uuids))),) if draw(st.integers(0, 4)) == 0 else ()
    operator_weight, developer_weight = draw(st.sampled_from([(1.0, 0.0), (0.0, 1.0), (0.5, 0.5)]))
    policy = PlacementPolicy(
        operator=draw(st.sampled_from(list(OperatorPolicy))),
        priority_list=tuple(draw(st.permutations([p.name for p in pops]))[: draw(st.integers(0, n_pops))]),
        blacklist=tuple(
            draw(st.lists(st.sampled_from([p.name for p in pops] + ["C1"]), max_size=1, unique=True))
        ),
        weights=ObjectiveWeights(operator_weight, developer_weight),
        vnf_single_pop=single_pop,
        predefined_mapping=pins,
    )
    return service, substrate, policy
