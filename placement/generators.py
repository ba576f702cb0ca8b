"""Synthetic substrates (10 to 1,000+ PoPs) and services (chains and DAGs), seeded and pure.

Substrates:

* :func:`random_substrate` — networkx random graphs: ``waxman`` (the classic geometric model of
  ISP networks), ``erdos_renyi`` or ``barabasi_albert``; components are joined so the WAN is
  connected.
* :func:`zoo_like_substrate` — shaped like the graphs of the Internet Topology Zoo: a small
  meshed core (a ring with chords) spanning a continent, regional nodes hanging off their
  nearest core or regional node (tree-like), and a few extra links closing short loops;
  average degree ≈ 2.5–3, as in most Zoo networks.

Node positions lie in a 2,000 km square; link latency = distance / 200 km per ms (light in
fibre) + 0.1 ms, bandwidth 1–10 Gbps (core links 10 Gbps). PoPs get 16–128 cores, 2–4 GB
per core, 10–80 % usage, a city name, and a VIM endpoint ``10.<region>.<site>.<host>`` so the
SONATA proximity objective (common IPv4 prefixes) reflects geography. A ``container_fraction``
of PoPs are container VIMs.

Services: :func:`chain_service` (ingress → VNF₁ → … → VNFₙ → egress) and :func:`dag_service`
(each VNF fed by one or two earlier ones), with 1–2 VM units per VNF, per-link bandwidth and
optional latency bounds, and proximity wishes towards ingress and egress.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

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
from placement.substrate import Pop, PopType, Substrate

AREA_KM = 2000.0
FIBRE_KM_PER_MS = 200.0


def _latency(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(np.hypot(*(a - b))) * AREA_KM / FIBRE_KM_PER_MS + 0.1, 3)


def _pops(
    positions: np.ndarray, regions: np.ndarray, rng: np.random.Generator, container_fraction: float
) -> list[Pop]:
    pops = []
    for i, (region, _) in enumerate(zip(regions, positions)):
        cores = float(rng.choice([16, 32, 64, 128]))
        memory = cores * float(rng.choice([2, 4]))
        usage = float(rng.uniform(0.1, 0.8))
        container = rng.random() < container_fraction
        pops.append(
            Pop(
                uuid=f"pop-{i:04d}",
                name=f"pop-{i:04d}",
                city=f"city-{i:04d}",
                pop_type=PopType.CONTAINER if container else PopType.VM,
                cores_total=cores,
                cores_used=float(round(cores * usage)),
                memory_total=memory,
                memory_used=round(memory * min(0.95, usage + rng.uniform(-0.1, 0.1)), 1),
                endpoint=f"10.{int(region) % 250}.{(i // 250) % 250}.{i % 250 + 1}",
            )
        )
    return pops


def _regions(positions: np.ndarray, count: int) -> np.ndarray:
    """Region id per node: index of the nearest of ``count`` grid cells."""
    side = max(1, int(math.ceil(math.sqrt(count))))
    cells = np.minimum((positions * side).astype(int), side - 1)
    return cells[:, 0] * side + cells[:, 1]


def _connect(graph: nx.Graph, positions: np.ndarray) -> None:
    """Join components by their geographically closest node pairs."""
    components = [list(c) for c in nx.connected_components(graph)]
    while len(components) > 1:
        first, rest = components[0], [n for c in components[1:] for n in c]
        dist = np.hypot(*(positions[first][:, None, :] - positions[rest][None, :, :]).transpose(2, 0, 1))
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        graph.add_edge(first[i], rest[j])
        components = [list(c) for c in nx.connected_components(graph)]


def _substrate(
    graph: nx.Graph,
    positions: np.ndarray,
    rng: np.random.Generator,
    container_fraction: float,
    core: set[int] = frozenset(),
) -> Substrate:
    pops = _pops(positions, _regions(positions, max(4, len(positions) // 8)), rng, container_fraction)
    links = []
    for a, b in graph.edges:
        bandwidth = 10000.0 if a in core and b in core else float(rng.choice([1000, 2500, 10000]))
        links.append((pops[a].uuid, pops[b].uuid, bandwidth, _latency(positions[a], positions[b])))
    return Substrate.from_pops(pops, links)


def random_substrate(
    n_pops: int, *, seed: int = 0, model: str = "waxman", container_fraction: float = 0.0
) -> Substrate:
    """A connected random substrate (``waxman``, ``erdos_renyi`` or ``barabasi_albert``)."""
    rng = np.random.default_rng(seed)
    positions = rng.random((n_pops, 2))
    if model == "waxman":
        graph = nx.waxman_graph(n_pops, beta=0.4, alpha=0.08, domain=(0, 0, 1, 1), seed=seed)
        positions = np.array([graph.nodes[i]["pos"] for i in range(n_pops)])
    elif model == "erdos_renyi":
        graph = nx.gnp_random_graph(n_pops, min(1.0, 2.0 * math.log(max(n_pops, 2)) / n_pops), seed=seed)
    elif model == "barabasi_albert":
        graph = nx.barabasi_albert_graph(n_pops, 2 if n_pops > 2 else 1, seed=seed)
    else:
        raise ValueError(f"unknown model {model!r} (waxman, erdos_renyi, barabasi_albert)")
    graph = nx.Graph(graph.edges) if graph.number_of_edges() else nx.empty_graph(n_pops)
    graph.add_nodes_from(range(n_pops))
    _connect(graph, positions)
    return _substrate(graph, positions, rng, container_fraction)


def zoo_like_substrate(n_pops: int, *, seed: int = 0, container_fraction: float = 0.0) -> Substrate:
    """A Topology-Zoo-shaped substrate: meshed core ring, tree-like regions, a few loops."""
    rng = np.random.default_rng(seed)
    positions = rng.random((n_pops, 2))
    n_core = max(3, min(n_pops, int(round(n_pops**0.5))))
    core = list(range(n_core))
    centre = positions[core].mean(axis=0)
    ring = sorted(core, key=lambda i: math.atan2(*(positions[i] - centre)[::-1]))
    graph = nx.Graph()
    graph.add_nodes_from(range(n_pops))
    for a, b in zip(ring, ring[1:] + ring[:1]):
        if a != b:
            graph.add_edge(a, b)
    for _ in range(max(1, n_core // 3)):  # chords across the core
        a, b = rng.choice(core, size=2, replace=False)
        graph.add_edge(int(a), int(b))
    attached = list(core)
    for node in range(n_core, n_pops):  # regions: hang off the nearest node
        dist = np.hypot(*(positions[attached] - positions[node]).T)
        graph.add_edge(node, attached[int(np.argmin(dist))])
        if rng.random() < 0.25 and len(attached) > 1:  # close a short loop
            graph.add_edge(node, attached[int(np.argsort(dist)[1])])
        attached.append(node)
    return _substrate(graph, positions, rng, container_fraction, set(core))


def endpoints_on(substrate: Substrate, *, seed: int = 0) -> tuple[Endpoint, Endpoint]:
    """An ingress and an egress point located at two random VM PoPs (nap = their endpoint)."""
    rng = np.random.default_rng(seed)
    vm = [pop for pop in substrate.pops if pop.pop_type is PopType.VM]
    first, second = rng.choice(len(vm), size=2, replace=len(vm) < 2)
    return (
        Endpoint("ingress:0", EndpointRole.INGRESS, vm[first].uuid, vm[first].endpoint),
        Endpoint("egress:0", EndpointRole.EGRESS, vm[second].uuid, vm[second].endpoint),
    )


def _vnfs(n_vnfs: int, rng: np.random.Generator, max_units: int) -> list[Vnf]:
    vnfs = []
    for k in range(n_vnfs):
        vnf_id = f"vnf{k}"
        units = tuple(
            DeploymentUnit(
                f"{vnf_id}/vdu{u}",
                vnf_id,
                f"vdu{u}",
                PopType.VM,
                float(rng.integers(1, 5)),
                float(rng.choice([1, 2, 4, 8])),
            )
            for u in range(int(rng.integers(1, max_units + 1)))
        )
        vnfs.append(Vnf(vnf_id, units, name=vnf_id))
    return vnfs


def _link(rng, name: str, a: LinkEnd, b: LinkEnd, latency_bound: tuple[float, float] | None) -> VirtualLink:
    bandwidth = float(rng.choice([10, 50, 100, 200]))
    bound = round(float(rng.uniform(*latency_bound)), 2) if latency_bound else None
    return VirtualLink(name, a, b, bandwidth, bound)


def _service(vnfs, edges, rng, endpoints, latency_bound, name) -> ServiceGraph:
    ingress, egress = (
        endpoints
        if endpoints
        else (Endpoint("ingress:0", EndpointRole.INGRESS), Endpoint("egress:0", EndpointRole.EGRESS))
    )
    links = [
        _link(
            rng, f"vl{k}", LinkEnd(a.vnf_id, a.units[0].id), LinkEnd(b.vnf_id, b.units[-1].id), latency_bound
        )
        for k, (a, b) in enumerate(edges)
    ]
    sources = [v for v in vnfs if not any(b is v for _, b in edges)]
    sinks = [v for v in vnfs if not any(a is v for a, _ in edges)]
    with_qos = endpoints is not None
    links += [
        VirtualLink(
            f"in{k}",
            LinkEnd(ingress.id),
            LinkEnd(v.vnf_id, v.units[0].id),
            float(rng.choice([10, 50])) if with_qos else 0.0,
            round(float(rng.uniform(*latency_bound)) * 2, 2) if with_qos and latency_bound else None,
        )
        for k, v in enumerate(sources)
    ]
    links += [
        VirtualLink(
            f"out{k}",
            LinkEnd(v.vnf_id, v.units[-1].id),
            LinkEnd(egress.id),
            float(rng.choice([10, 50])) if with_qos else 0.0,
            round(float(rng.uniform(*latency_bound)) * 2, 2) if with_qos and latency_bound else None,
        )
        for k, v in enumerate(sinks)
    ]
    wishes = [
        SoftConstraint(SoftConstraintKind.PROXIMITY, ("source", sources[0].vnf_id)),
        SoftConstraint(SoftConstraintKind.PROXIMITY, ("destination", sinks[-1].vnf_id)),
    ]
    return ServiceGraph.build(vnfs, [ingress, egress], links, wishes, name=name)


def chain_service(
    n_vnfs: int,
    *,
    seed: int = 0,
    endpoints: tuple[Endpoint, Endpoint] | None = None,
    latency_bound: tuple[float, float] | None = (5.0, 20.0),
    max_units: int = 2,
) -> ServiceGraph:
    """ingress → vnf0 → … → vnf(n-1) → egress; links get 10–200 Mbps and a latency bound drawn
    from ``latency_bound`` (None: no bound). Endpoint links carry QoS only if ``endpoints`` are
    placed on the substrate (see :func:`endpoints_on`)."""
    rng = np.random.default_rng(seed)
    vnfs = _vnfs(n_vnfs, rng, max_units)
    return _service(vnfs, list(zip(vnfs, vnfs[1:])), rng, endpoints, latency_bound, f"chain-{n_vnfs}")


def dag_service(
    n_vnfs: int,
    *,
    seed: int = 0,
    endpoints: tuple[Endpoint, Endpoint] | None = None,
    latency_bound: tuple[float, float] | None = (5.0, 20.0),
    max_units: int = 2,
) -> ServiceGraph:
    """A random DAG: every VNF after the first is fed by one or two earlier VNFs."""
    rng = np.random.default_rng(seed)
    vnfs = _vnfs(n_vnfs, rng, max_units)
    edges = []
    for k in range(1, n_vnfs):
        for parent in rng.choice(k, size=min(k, int(rng.integers(1, 3))), replace=False):
            edges.append((vnfs[int(parent)], vnfs[k]))
    return _service(vnfs, edges, rng, endpoints, latency_bound, f"dag-{n_vnfs}")
