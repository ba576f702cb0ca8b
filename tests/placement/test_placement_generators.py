"""Generators: sizes, connectivity, determinism, and placements on generated instances."""

from __future__ import annotations

import networkx as nx
import pytest
from placement_checks import check_mapping

from placement import PlacementPolicy, PopType, generators, place


@pytest.mark.parametrize("model", ["waxman", "erdos_renyi", "barabasi_albert"])
def test_random_substrates_are_connected_and_seeded(model):
    first = generators.random_substrate(60, seed=4, model=model)
    again = generators.random_substrate(60, seed=4, model=model)
    assert len(first.pops) == 60 and nx.is_connected(first.graph)
    assert first.pops == again.pops and sorted(first.graph.edges) == sorted(again.graph.edges)
    assert all(d["latency"] > 0 and d["bandwidth"] >= 1000 for _, _, d in first.graph.edges(data=True))


@pytest.mark.parametrize("size", [10, 100, 1000])
def test_zoo_like_substrates_are_sparse_and_connected(size):
    substrate = generators.zoo_like_substrate(size, seed=1, container_fraction=0.1)
    graph = substrate.graph
    assert graph.number_of_nodes() == size and nx.is_connected(graph)
    assert 1.8 <= 2 * graph.number_of_edges() / size <= 3.5  # Zoo-like average degree
    assert any(p.pop_type is PopType.CONTAINER for p in substrate.pops) or size == 10
    assert all(0 <= p.cores_used <= p.cores_total for p in substrate.pops)


def test_chain_and_dag_services():
    substrate = generators.zoo_like_substrate(30, seed=2)
    endpoints = generators.endpoints_on(substrate, seed=2)
    chain = generators.chain_service(6, seed=2, endpoints=endpoints)
    assert [v.vnf_id for v in chain.vnfs] == [f"vnf{k}" for k in range(6)]
    vnf_graph = nx.Graph((link.a.node, link.b.node) for link in chain.links)
    assert nx.is_connected(vnf_graph) and all(link.has_qos for link in chain.links)
    dag = generators.dag_service(12, seed=2, endpoints=endpoints)
    directed = nx.DiGraph((link.a.node, link.b.node) for link in dag.links)
    assert nx.is_directed_acyclic_graph(directed) and directed.number_of_nodes() == 14
    mapping = place(dag, substrate, solver="fast")

    assert check_mapping(dag, substrate, PlacementPolicy(), mapping.units) == []
