"""Where mano's actors and tasks run on a Ray cluster (mano/lifecycle/nodes.py), decided without a
cluster: the control plane on the head unless the operator says otherwise, instances spread, a
loopback store keeping its users on its node (tests/runtime/test_cluster_placement.py looks at a
real two-node cluster)."""
from __future__ import annotations

import pytest

from actors.calls import ray_options
from mano.lifecycle import nodes
from mano.lifecycle.nodes import Where
from mano.errors import ClusterError
from mano.settings import Settings

BOUND = Settings(mongo_url="mongodb://10.0.0.5:27017")  # reachable from every node: store_node None
LOOPBACK = Settings(mongo_url="mongodb://127.0.0.1:27017", store_node="abc123")


def test_the_control_plane_runs_on_the_head_by_default_and_anywhere_when_the_operator_says_so():
    assert Settings.from_env({}).control_plane_node == "head"
    assert nodes.control_plane(BOUND) == nodes.HEAD
    anywhere = Settings.from_env({"MANO_CONTROL_PLANE_NODE": "any", "MANO_MONGO_URL": "mongodb://db:27017"})
    assert nodes.control_plane(anywhere) == nodes.ANY


def test_an_unknown_control_plane_node_is_refused_by_name():
    with pytest.raises(ClusterError, match="MANO_CONTROL_PLANE_NODE='worker': expected one of head, any"):
        nodes.control_plane(Settings(control_plane_node="worker"))


def test_instances_are_spread_and_storeless_work_is_spread_whatever_the_store():
    assert nodes.instances(BOUND) == nodes.SPREAD
    assert nodes.search_tasks() == nodes.SPREAD and nodes.sm_hosts() == nodes.SPREAD


@pytest.mark.parametrize("control_plane_node", ["head", "any"])
def test_a_loopback_store_keeps_its_users_on_its_node(control_plane_node):
    settings = Settings(mongo_url=LOOPBACK.mongo_url, store_node=LOOPBACK.store_node,
                        control_plane_node=control_plane_node)
    assert nodes.control_plane(settings) == Where("node", "abc123")
    assert nodes.instances(settings) == Where("node", "abc123")


def test_the_decisions_become_ray_options_without_losing_the_callers():
    head = ray_options(nodes.HEAD, {"name": "slm", "resources": {"gpu_slot": 1}})
    assert head == {"name": "slm", "resources": {"gpu_slot": 1, "node:__internal_head__": 0.001}}
    assert ray_options(nodes.SPREAD, {"name": "vnf:1"}) == {"name": "vnf:1",
                                                                           "scheduling_strategy": "SPREAD"}
    assert ray_options(nodes.ANY, {"name": "x"}) == {"name": "x"}
    assert ray_options(None) == {}
    node = "ab" * 28  # a Ray node id: 28 bytes in hex
    pinned = ray_options(Where("node", node))["scheduling_strategy"]
    assert (pinned.node_id, pinned.soft) == (node, False)


def test_a_placement_is_well_formed():
    with pytest.raises(ValueError):
        Where("node")  # a node needs its id
    with pytest.raises(ValueError):
        Where("spread", "abc123")
    with pytest.raises(ValueError):
        Where("everywhere")
