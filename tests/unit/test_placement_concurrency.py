"""Concurrent placements in one process (the Placement plugin serves many threads) all succeed."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mano.descriptors import load_service
from mano.lifecycle.ports import PlacementRequest, PlacementUnit
from mano.lifecycle.sonata_placement import place_request
from mano.vim import load_topology
from paths import EXAMPLES


def test_sixteen_threads_placing_at_once():
    pkg = load_service(EXAMPLES / "sonata-demo")
    pops = tuple(load_topology())

    def one(i):
        units = tuple(PlacementUnit(f"{i}-{nf.vnf_id}", nf.vnf_id, pkg.vnfd(nf.vnf_id).to_dict())
                      for nf in pkg.nsd.network_functions)
        return place_request(PlacementRequest("s", pkg.nsd.to_dict(), units, pops))
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(48)))
    assert all(len(set(r.mapping.values())) == 3 for r in results)  # load balanced: each VNF on its own PoP
