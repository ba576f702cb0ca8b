"""Real topologies as substrates: topohub's graphs (shipped as data) become topology files that
the runtime and the engine read, with WAN latency from the geography."""
from __future__ import annotations

import networkx as nx
import pytest
import yaml

from mano.vim.topology import load_infrastructure
from placement import PlacementError, substrate_from_sonata
from placement.topology import Capacity, fibre_latency_ms, haversine_km, load_substrate, main, to_sonata


def test_a_topology_zoo_network_becomes_pops_named_after_their_cities_with_geographic_latency():
    substrate = load_substrate("zoo:Abilene", Capacity(cores=32, usage=0.5, seed=3))
    pops = {p.name: p for p in substrate.pops}
    assert len(pops) == 11 and substrate.graph.number_of_edges() == 14
    assert {"New York", "Chicago", "Denver", "Seattle"} <= set(pops)
    assert all(p.cores_total == 32 and 0 <= p.cores_used <= 16 for p in pops.values())
    ny, chicago = pops["New York"].uuid, pops["Chicago"].uuid
    latency = substrate.graph.edges[ny, chicago]["latency"]
    # ~1,150 km of fibre at 200 km/ms: about 6 ms, as a WAN engineer would expect
    assert 5.0 < latency < 7.5
    seattle = pops["Seattle"].uuid
    coast_to_coast = nx.shortest_path_length(substrate.graph, ny, seattle, weight="latency")
    assert coast_to_coast > 3 * latency  # the geography shows through the routes
    assert len({p.endpoint for p in pops.values()}) == 11


def test_latency_is_great_circle_distance_at_the_speed_of_light_in_fibre():
    new_york, london = (-74.0, 40.7), (-0.13, 51.5)
    assert 5500 < haversine_km(new_york, london) < 5600
    assert fibre_latency_ms(2000.0) == pytest.approx(10.1)


@pytest.mark.parametrize("source, nodes", [("sndlib:germany50", 50), ("caida:7018", 594), ("generated:300", 300),
                                           ("waxman:40", 40)])
def test_every_source_kind_gives_a_connected_substrate(source, nodes):
    substrate = load_substrate(source, Capacity(cores=64))
    assert len(substrate.pops) == nodes and nx.is_connected(substrate.graph)
    assert all(p.cores_total == 64 for p in substrate.pops)


def test_a_generated_substrate_keeps_its_own_varied_capacities_unless_told():
    varied = load_substrate("generated:50")
    assert len({p.cores_total for p in varied.pops}) > 1
    assert len({d["bandwidth"] for _, _, d in varied.graph.edges(data=True)}) > 1


@pytest.mark.parametrize("cores", [None, 16.0])
def test_a_bandwidth_given_applies_to_every_generated_link_with_or_without_cores(cores):
    # It was ignored unless --cores was given too.
    varied = load_substrate("generated:50")
    told = load_substrate("generated:50", Capacity(cores=cores, bandwidth_mbps=40_000.0))
    assert {d["bandwidth"] for _, _, d in told.graph.edges(data=True)} == {40_000.0}
    assert ([p.cores_total for p in told.pops] == [p.cores_total for p in varied.pops]) is (cores is None)


def test_the_cli_writes_the_bandwidth_it_was_given_on_a_generated_substrate(tmp_path):
    out = tmp_path / "generated.yml"
    assert main(["generated:30", "--bandwidth", "2500", "-o", str(out)]) == 0
    qos = yaml.safe_load(out.read_text())["wims"][0]["qos"]
    assert {link["bandwidth"] for link in qos} == {2500.0}


@pytest.mark.parametrize("source, words", [("zoo:NoSuchNetwork", "topohub has no topology 'topozoo/NoSuchNetwork'"),
                                           ("ftp:abilene", "unknown topology source 'ftp:abilene'"),
                                           ("generated:many", "must be a number of PoPs"),
                                           ("generated:0", "at least one PoP")])
def test_a_bad_source_says_what_is_wrong(source, words):
    with pytest.raises(PlacementError, match=words):
        load_substrate(source)


def test_the_topology_file_reads_back_the_same_in_the_runtime_and_in_the_engine(tmp_path):
    out = tmp_path / "abilene.yml"
    assert main(["zoo:Abilene", "--cores", "64", "--seed", "1", "-o", str(out)]) == 0
    written = load_substrate("zoo:Abilene", Capacity(cores=64, seed=1))
    pops, links = load_infrastructure(out)
    assert [p.vim_uuid for p in pops] == [p.uuid for p in written.pops]
    assert [(p.core_total, p.core_used, p.endpoint) for p in pops] == \
        [(p.cores_total, p.cores_used, p.endpoint) for p in written.pops]
    assert {frozenset((link.node_1, link.node_2)): link.latency for link in links} == \
        {frozenset((a, b)): d["latency"] for a, b, d in written.graph.edges(data=True)}
    engine = substrate_from_sonata(yaml.safe_load(out.read_text()))
    assert nx.utils.graphs_equal(nx.Graph(engine.graph.edges), nx.Graph(written.graph.edges))


def test_the_cli_reports_a_bad_source_without_a_traceback(capsys):
    assert main(["backbone:atlantis"]) == 2
    assert "topohub has no topology 'backbone/atlantis'" in capsys.readouterr().err


def test_to_sonata_is_plain_yaml():
    text = yaml.safe_dump(to_sonata(load_substrate("generated:20", Capacity(cores=8))))
    assert "!!python" not in text  # numpy scalars would need a Python tag: a file no other tool reads
