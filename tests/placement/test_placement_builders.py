"""SONATA dicts → service graph, substrate and policy; units; the networkx views."""

from __future__ import annotations

import copy
from pathlib import Path

import networkx as nx
import pytest
import yaml

from placement import (
    OperatorPolicy,
    PlacementError,
    PopType,
    policy_from_sonata,
    service_from_sonata,
    substrate_from_sonata,
    units,
)
from placement.service import EndpointRole
from placement.service_builder import parse_placement_request


@pytest.fixture
def sonata(cases_file: Path):
    base = cases_file.parent
    load = lambda name: yaml.safe_load((base / name).read_text())  # noqa: E731
    return load("nsd_16.yml"), [load("vnfd_1_16.yml"), load("vnfd_2_16.yml")], load("infrastructure_16.yml")


INGRESS = [{"nap": "10.100.10.100", "location": "foo"}]
EGRESS = [{"nap": "10.1.10.1", "location": "bar"}]


def test_service_graph_from_nsd_and_vnfds(sonata):
    nsd, vnfds, _ = sonata
    service = service_from_sonata(nsd, vnfds, INGRESS, EGRESS)
    assert isinstance(service.graph, nx.MultiGraph)
    assert [v.vnf_id for v in service.vnfs] == ["vforward_vnf_1_2", "vforward_vnf_2_2"]
    second = service.vnf("vforward_vnf_2_2")
    assert [(u.id, u.cores, u.memory, u.platform) for u in second.units] == [
        ("vforward_vnf_2_2/vdu01", 1, 1, PopType.VM),
        ("vforward_vnf_2_2/vdu02", 3, 3, PopType.VM),
    ]
    assert {e.role for e in service.endpoints} == {EndpointRole.INGRESS, EndpointRole.EGRESS}
    links = {link.id: link for link in service.links}
    # NS cp "input" is the first hop of the forwarding path → ingress; "vnf:input" lands on vdu01
    assert (links["link_1"].a.node, links["link_1"].b.unit) == ("ingress:0", "vforward_vnf_1_2/vdu01")
    assert (links["link_3"].b.node, links["link_3"].a.node) == ("egress:0", "vforward_vnf_2_2")
    # the E-LAN mgmt link joins the two VNFs (the management NS cp is no endpoint)
    assert [(ln.a.node, ln.b.node) for i, ln in links.items() if i.startswith("mgmt")] == [
        ("vforward_vnf_1_2", "vforward_vnf_2_2")
    ]
    assert not any(link.has_qos for link in service.links)
    assert [(c.kind.value, c.actors) for c in service.soft_constraints][0] == (
        "proximity",
        ("source", "vforward_vnf_1_2"),
    )


def test_qos_memory_units_and_containers(sonata):
    nsd, vnfds, _ = copy.deepcopy(sonata)
    nsd["virtual_links"][2]["qos_requirements"] = {
        "minimum_bandwidth": {"bandwidth": 1, "bandwidth_unit": "Gbps"},
        "latency": {"latency": 2, "latency_unit": "ms"},
    }
    vnfds[0]["virtual_deployment_units"][0]["resource_requirements"]["memory"] = {
        "size": 512,
        "size_unit": "MB",
    }
    vnfds[1]["cloudnative_deployment_units"] = [{"id": "cdu01", "image": "x"}]
    service = service_from_sonata(nsd, vnfds, INGRESS, EGRESS)
    link_2 = next(link for link in service.links if link.id == "link_2")
    assert (link_2.bandwidth, link_2.max_latency) == (1000, 2)
    assert service.vnf("vforward_vnf_1_2").units[0].memory == 0.5
    container = service.vnf("vforward_vnf_2_2").units[-1]
    assert (container.platform, container.cores, container.memory) == (PopType.CONTAINER, 0, 0)


def test_missing_vnfd_and_malformed_input(sonata):
    nsd, vnfds, _ = sonata
    with pytest.raises(PlacementError, match="no VNFD for network function 'vforward_vnf_2_2'"):
        service_from_sonata(nsd, vnfds[:1])
    with pytest.raises(PlacementError, match="NSD is not a dict"):
        service_from_sonata("nsd", vnfds)
    bad = copy.deepcopy(vnfds)
    bad[0]["virtual_deployment_units"][0]["resource_requirements"]["memory"]["size_unit"] = "parsecs"
    with pytest.raises(PlacementError, match="unknown unit 'parsecs'"):
        service_from_sonata(nsd, bad)


def test_substrate_from_sonata_topology_and_wims(sonata):
    _, _, topology = sonata
    wims = [
        {
            "uuid": "wim-1",
            "qos": [
                {
                    "node_1": "1111-22222222-33333333-4444",
                    "node_2": "1111-22222222-33333333-5555",
                    "bandwidth": 100,
                    "latency": 7,
                },
                {"node_1": "1111-22222222-33333333-5555", "node_2": "foo", "bandwidth": 50, "latency": 2},
            ],
        }
    ]
    substrate = substrate_from_sonata({"vims": topology, "wims": wims})
    athens = substrate.pop("1111-22222222-33333333-4444")
    assert (athens.name, athens.city, athens.free_cores, athens.free_memory, athens.endpoint) == (
        "Athens",
        "Athens",
        6,
        6,
        "10.100.32.200",
    )
    assert substrate.graph.edges["1111-22222222-33333333-4444", "1111-22222222-33333333-5555"] == {
        "bandwidth": 100,
        "latency": 7,
    }
    assert substrate.resolve_node("foo") == "foo" and substrate.resolve_pop("Ghent").uuid.endswith("6666")
    assert "pop" not in substrate.graph.nodes["foo"]
    with pytest.raises(PlacementError, match="missing vim_uuid"):
        substrate_from_sonata([{"vim_name": "x"}])
    with pytest.raises(PlacementError, match="expected a non-negative number"):
        substrate_from_sonata([{"vim_uuid": "x", "core_total": -1}])


def test_policy_from_sonata_weights_and_pins():
    policy = policy_from_sonata(
        {
            "policy": "priority",
            "policy_list": ["Ghent", "Athens"],
            "weights": {"operator": "0.3", "developer": "0.7"},
        },
        {"blacklist": ["Aveiro"]},
        predefined_mapping={"vnf_a": "Ghent"},
    )
    assert policy.operator is OperatorPolicy.PRIORITY and policy.priority_list == ("Ghent", "Athens")
    assert (policy.weights.operator, policy.weights.developer) == (0.3, 0.7)
    assert policy.blacklist == ("Aveiro",) and policy.pins == {"vnf_a": "Ghent"}
    explicit = policy_from_sonata(
        {"policy": "fill first", "weights": {}}, {}, operator_weight=0.0, developer_weight=1.0
    )
    assert (explicit.weights.operator, explicit.weights.developer) == (0.0, 1.0)
    assert policy_from_sonata({}, {}).operator is OperatorPolicy.NONE


def test_parse_placement_request_reads_sonatas_payload(sonata):
    nsd, vnfds, topology = sonata
    payload = {
        "serv_id": "s",
        "nsd": nsd,
        "functions": [{"id": "f1", "vnfd": vnfds[0]}, {"id": "f2", "vnfd": vnfds[1]}],
        "topology": {"vims": topology, "wims": []},
        "operator_policies": {"policy": "load balanced"},
        "customer_policies": {},
        "nap": {"ingresses": INGRESS, "egresses": EGRESS},
    }
    arguments = parse_placement_request(payload)
    assert (
        arguments["vnfds"] == vnfds
        and arguments["ingress"] == INGRESS
        and arguments["vnf_single_pop"] is True
    )


def test_units():
    assert (
        units.memory_gb(2048, "MiB") == 2 and units.memory_gb(1, "TB") == 1024 and units.memory_gb(1024) == 1
    )
    assert units.bandwidth_mbps({"bandwidth": 500, "bandwidth_unit": "kbps"}) == 0.5
    assert units.latency_ms({"latency": 0.01, "latency_unit": "s"}) == 10
