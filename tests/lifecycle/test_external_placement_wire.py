"""A placement request for an external plugin, in SONATA's format, and its reply read back:
what mano sends is what a reader of SONATA's ``mano.service.place`` (mano's own gateway, written
to son-mano-framework's SLM) takes for the same request."""
from __future__ import annotations

import pytest

from mano.descriptors import load_service
from mano.gateway.placement_topic import parse
from mano.lifecycle.external_placement import ExternalPlacementError, outcome_of, request_body
from mano.lifecycle.ports import PlacementRequest, PlacementUnit
from mano.lifecycle.vim_port import Pop, WanLink
from paths import EXAMPLES

PLUGIN = "son-plugin.PlacementPlugin"


@pytest.fixture
def request_():
    package = load_service(EXAMPLES / "sonata-demo")
    units = tuple(PlacementUnit(f"id-{nf.vnf_id}", nf.vnf_id, package.vnfd(nf.vnf_id))
                  for nf in package.nsd.network_functions)
    pops = (Pop(vim_uuid="vim-a", name="a", city="Athens", core_total=8, memory_total=16, core_used=2, memory_used=4),
            Pop(vim_uuid="vim-b", name="b", city="Berlin", core_total=8, memory_total=16))
    return PlacementRequest("svc-1", package.nsd.to_dict(), units, pops, pinned={"id-vnf_iperf": "vim-b"},
                            blacklist=("Aveiro",), policy="priority", policy_list=("b", "a"),
                            weights={"operator": 1.0, "developer": 0.5},
                            ingresses=({"location": "Athens", "nap": "10.0.0.1"},),
                            links=(WanLink("vim-a", "vim-b", bandwidth=100.0, latency=5.0),))


def test_the_request_reads_back_as_the_same_request_through_sonatas_format(request_):
    body = request_body(request_)
    assert body["topology"]["vims"]["vim_list"][0]["memory_total"] == 16 * 1024  # MB, as SONATA's IA says
    asked = parse(body).request
    assert asked.service_id == "svc-1" and asked.pinned == {"id-vnf_iperf": "vim-b"}
    assert [(u.instance_id, u.vnf_id) for u in asked.units] == [(u.instance_id, u.vnf_id) for u in request_.units]
    assert [(p.vim_uuid, p.core_total, p.core_used, p.memory_total, p.memory_used) for p in asked.pops] == \
        [("vim-a", 8, 2, 16, 4), ("vim-b", 8, 0, 16, 0)]
    assert (asked.policy, asked.policy_list, asked.blacklist) == ("priority", ("b", "a"), ("Aveiro",))
    assert dict(asked.weights) == {"operator": 1.0, "developer": 0.5}
    assert [dict(e) for e in asked.ingresses] == [{"location": "Athens", "nap": "10.0.0.1"}]
    assert asked.links == request_.links


def test_a_reply_is_checked_before_it_is_used(request_):
    ids = [u.instance_id for u in request_.units]
    good = outcome_of({"error": None, "mapping": {"du": {i: "vim-b" for i in ids}, "vl": {}}}, request_, PLUGIN, 0.2)
    assert good.mapping == {i: "vim-b" for i in ids} and good.solver == PLUGIN and good.seconds == 0.2
    with pytest.raises(ExternalPlacementError, match=f"placement plugin {PLUGIN}: Unable to place"):
        outcome_of({"error": "Unable to place", "mapping": {}}, request_, PLUGIN, 0.1)
    with pytest.raises(ExternalPlacementError, match="placed no PoP for id-vnf_tcpdump"):
        outcome_of({"error": None, "mapping": {"du": {i: "vim-a" for i in ids[:2]}}}, request_, PLUGIN, 0.1)
    with pytest.raises(ExternalPlacementError, match="chose PoPs the request did not offer: vim-z"):
        outcome_of({"error": None, "mapping": {"du": {i: "vim-z" for i in ids}}}, request_, PLUGIN, 0.1)
    with pytest.raises(ExternalPlacementError, match="without a mapping.du"):
        outcome_of({"error": None}, request_, PLUGIN, 0.1)
    with pytest.raises(ExternalPlacementError, match="a body mano cannot read"):
        outcome_of("not a mapping", request_, PLUGIN, 0.1)
