"""Reservations of placed-but-not-deployed VNFs keep concurrent placements from overflowing a PoP."""
from __future__ import annotations

from mano.descriptors import load_service
from mano.lifecycle.first_fit import first_fit
from mano.lifecycle.pending import PendingPlacements
from mano.lifecycle.ports import PlacementRequest, PlacementUnit
from mano.lifecycle.vim_port import Pop
from paths import EXAMPLES


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def request(prefix):
    pkg = load_service(EXAMPLES / "sonata-demo")
    units = tuple(PlacementUnit(f"{prefix}-{nf.vnf_id}", nf.vnf_id, pkg.vnfd(nf.vnf_id).to_dict())
                  for nf in pkg.nsd.network_functions)
    pops = (Pop(vim_uuid="a", name="a", core_total=4, memory_total=64),
            Pop(vim_uuid="b", name="b", core_total=4, memory_total=64))
    return PlacementRequest("s", pkg.nsd.to_dict(), units, pops)


def test_pending_reservations_count_until_deployed_or_expired():
    clock = Clock()
    pending = PendingPlacements(ttl_s=10, clock=clock)
    first = request("one")
    mapping = first_fit(pending.apply(first, deployed=[]))
    pending.add(first, mapping)
    assert set(mapping.values()) == {"a"}
    second = pending.apply(request("two"), deployed=[])
    assert [p.core_used for p in second.pops] == [3.0, 0.0]  # the first service is not deployed yet
    assert set(first_fit(second).values()) == {"a", "b"}     # so the second does not overflow pop a
    assert [p.core_used for p in pending.apply(request("x"), deployed=["one-vnf_iperf"]).pops] == [2.0, 0.0]
    clock.now = 11
    assert [p.core_used for p in pending.apply(request("x"), deployed=[]).pops] == [0.0, 0.0]
    assert len(pending) == 0
