"""Routing computed once per WAN graph and process (``placement.network.RoutingCache``).

The cache is keyed by the graph's routing (nodes, links and their latencies, PoP nodes), not by
its usage: two placements on the same substrate share it, a changed latency does not. It changes
speed only: every answer is the one computed from scratch, whatever the cache holds.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading

import networkx as nx
import numpy as np
import pytest

from placement import PlacementPolicy, SearchSettings, generators, network, place
from placement.network import Network, RoutingCache
from placement.problem import compile_problem
from placement.substrate import Substrate


@pytest.fixture
def cache(monkeypatch) -> RoutingCache:
    """A fresh, empty process cache for the test (the module's is left as it was)."""
    fresh = RoutingCache()
    monkeypatch.setattr(network, "CACHE", fresh)
    return fresh


def _instance(n_pops: int = 60, n_vnfs: int = 8, seed: int = 3):
    substrate = generators.zoo_like_substrate(n_pops, seed=seed)
    service = generators.chain_service(n_vnfs, seed=seed, endpoints=generators.endpoints_on(substrate, seed=seed))
    return substrate, service


def _with_usage(substrate: Substrate, used_share: float) -> Substrate:
    """The same graph with other PoP usage (what changes between live placements)."""
    graph = substrate.graph.copy()
    for node, data in graph.nodes(data=True):
        pop = data.get("pop")
        if pop is not None:
            data["pop"] = dataclasses.replace(pop, cores_used=used_share * pop.cores_total,
                                              memory_used=used_share * pop.memory_total)
    return Substrate(graph)


def _with_link(substrate: Substrate, **changes) -> tuple[Substrate, tuple[str, str]]:
    graph = substrate.graph.copy()
    a, b = next(iter(graph.edges))
    graph.edges[a, b].update(changes)
    return Substrate(graph), (a, b)


def _from_scratch(net: Network, node: int) -> np.ndarray:
    """Dijkstra without any cache: the reference."""
    other = RoutingCache()
    routes = network._Routes(other, "reference", len(net.nodes), net._ends, net._latency, net.pop_node)
    return routes.row(node)[0]


SETTINGS = SearchSettings(starts=3, kicks=6)


def test_the_same_mapping_with_a_cold_a_warm_and_a_thrashing_cache(cache, monkeypatch):
    substrate, service = _instance()
    cold = place(service, substrate, solver="fast", seed=4, settings=SETTINGS)
    assert cache.stats()["rows"] > 0  # the search did use routes
    warm = place(service, substrate, solver="fast", seed=4, settings=SETTINGS)
    assert cache.stats()["hits"] >= 1
    tiny = RoutingCache(max_bytes=2_000)  # fewer bytes than one row: every row is recomputed
    monkeypatch.setattr(network, "CACHE", tiny)
    thrashing = place(service, substrate, solver="fast", seed=4, settings=SETTINGS)
    assert cold.units == warm.units == thrashing.units
    assert cold.objective == warm.objective == thrashing.objective
    assert cold.link_routes == warm.link_routes == thrashing.link_routes and cold.link_routes


def test_two_problems_on_one_substrate_with_different_usage_share_the_routing(cache):
    substrate, service = _instance()
    first = compile_problem(service, substrate, PlacementPolicy())
    second = compile_problem(service, _with_usage(substrate, 0.4), PlacementPolicy())
    assert not np.array_equal(first.free_cores, second.free_cores)
    assert first.network.key == second.network.key
    assert first.network._routes is second.network._routes
    row = first.network.pop_latencies(5)
    assert second.network.pop_latencies(5) is row  # computed once, for both
    assert cache.stats()["substrates"] == 1 and cache.stats()["hits"] >= 1


def test_a_changed_link_latency_is_another_routing(cache):
    substrate, service = _instance()
    first = compile_problem(service, substrate, PlacementPolicy())
    a, b = next((a, b) for a, b, data in substrate.graph.edges(data=True) if data["latency"] > 0)
    graph = substrate.graph.copy()
    graph.edges[a, b]["latency"] = 0.0
    second = compile_problem(service, Substrate(graph), PlacementPolicy())
    assert first.network.key != second.network.key
    assert first.network._routes is not second.network._routes
    i, j = first.network.index[a], first.network.index[b]
    assert first.network.node_latencies(i)[j] > 0.0 == second.network.node_latencies(i)[j]
    for node in range(0, len(second.network.nodes), 7):
        assert np.array_equal(second.network.node_latencies(node), _from_scratch(second.network, node))
    assert cache.stats()["substrates"] == 2


def test_a_changed_bandwidth_keeps_the_routes_but_not_the_bottlenecks(cache):
    substrate, service = _instance()
    first = compile_problem(service, substrate, PlacementPolicy())
    (a, b) = next(iter(substrate.graph.edges))
    narrowed, _ = _with_link(substrate, bandwidth=0.5)
    second = compile_problem(service, narrowed, PlacementPolicy())
    assert first.network._routes is second.network._routes  # shortest paths ignore bandwidth
    node = first.network.index[a]
    wide, narrow = first.network.pop_bottlenecks_from_node(node), second.network.pop_bottlenecks_from_node(node)
    assert narrow.min() <= 0.5 < wide.min()
    assert np.array_equal(first.network.pop_bottlenecks_from_node(node), wide)


def test_cached_rows_are_read_only(cache):
    substrate, service = _instance()
    net = compile_problem(service, substrate, PlacementPolicy()).network
    for row in (net.pop_latencies(0), net.node_latencies(3), net.pop_bottlenecks_from_node(3)):
        with pytest.raises(ValueError):
            row[0] = 1.0


def test_a_pickled_network_attaches_to_the_receivers_cache(cache, monkeypatch):
    substrate, service = _instance()
    net = compile_problem(service, substrate, PlacementPolicy()).network
    blob = pickle.dumps(net)
    for p in range(len(net.pop_node)):
        net.pop_latencies(p)
        net.pop_path_edges(0, p)
    assert len(pickle.dumps(net)) == len(blob)  # the routing is not shipped: the receiver has or rebuilds it
    same_process = pickle.loads(blob)
    assert same_process._routes is net._routes
    elsewhere = RoutingCache()  # another process: an empty cache
    monkeypatch.setattr(network, "CACHE", elsewhere)
    copy = pickle.loads(blob)
    assert copy._routes is not net._routes and elsewhere.stats()["substrates"] == 1
    assert copy.index == net.index
    for p in range(0, len(net.pop_node), 5):
        assert np.array_equal(copy.pop_latencies(p), net.pop_latencies(p))
        assert copy.pop_path_edges(0, p) == net.pop_path_edges(0, p)


def test_memory_is_bounded_on_a_large_substrate(cache):
    substrate = generators.zoo_like_substrate(2_000, seed=1)
    budget = 1_000_000  # ~20 rows of 2,000 nodes (distances and predecessors: 24 KB each)
    small = RoutingCache(max_bytes=budget)
    graph = substrate.graph
    pops = [pop.uuid for pop in substrate.pops]
    net = Network(graph, pops)
    routes = small.routes(net.key, len(net.nodes), net._ends, net._latency, net.pop_node)
    base = routes.nbytes
    for node in range(0, 2_000, 10):  # 200 sources: 10 times the budget
        routes.row(node)
        routes.pop_row(node)
        assert small.nbytes <= max(budget, base) + 2 * 24_000 + 2 * 16_000 + 400
    assert small.stats()["rows"] < 200
    for node in (0, 990, 1_990):  # evicted or not, a row is what Dijkstra says
        assert np.array_equal(routes.row(node)[0], _from_scratch(net, node))


def test_least_recently_used_substrates_are_dropped(cache):
    small = RoutingCache(max_substrates=2)
    nets = [Network(generators.zoo_like_substrate(30, seed=s).graph,
                    [p.uuid for p in generators.zoo_like_substrate(30, seed=s).pops]) for s in range(3)]
    keys = [n.key for n in nets]
    assert len(set(keys)) == 3
    for n in nets[:2]:
        small.routes(n.key, len(n.nodes), n._ends, n._latency, n.pop_node)
    small.routes(keys[0], len(nets[0].nodes), nets[0]._ends, nets[0]._latency, nets[0].pop_node)  # used again
    small.routes(keys[2], len(nets[2].nodes), nets[2]._ends, nets[2]._latency, nets[2].pop_node)
    assert set(small._substrates) == {keys[0], keys[2]}


def test_threads_sharing_a_tight_cache_get_correct_rows(cache, monkeypatch):
    monkeypatch.setattr(network, "CACHE", RoutingCache(max_bytes=50_000))
    substrate = generators.zoo_like_substrate(300, seed=2)
    net = Network(substrate.graph, [p.uuid for p in substrate.pops])
    expected = {node: _from_scratch(net, node) for node in range(0, 300, 3)}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for _ in range(3):
                for node in list(expected)[offset::2]:
                    assert np.array_equal(net.node_latencies(node), expected[node])
                    net.pop_latencies(node % len(net.pop_node))
                    net.path_edges(node, 0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1, 0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_islands_without_links_route_nothing(cache):
    graph = nx.Graph()
    substrate = generators.zoo_like_substrate(5, seed=0)
    for pop in substrate.pops:
        graph.add_node(pop.uuid, pop=pop)
    net = Network(graph, [p.uuid for p in substrate.pops])
    assert not net.has_links
    assert net.pop_latencies(0)[0] == 0.0 and np.isinf(net.pop_latencies(0)[1:]).all()
    with pytest.raises(ValueError, match="no route"):
        net.pop_path_edges(0, 1)
