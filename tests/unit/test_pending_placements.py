"""Reservations of placed-but-not-deployed VNFs keep concurrent placements from overflowing a PoP."""
from __future__ import annotations

from mano.descriptors import load_service
from mano.lifecycle.first_fit import first_fit
from mano.lifecycle.local import LocalVim
from mano.lifecycle.pending import PendingPlacements
from mano.lifecycle.ports import PlacementRequest, PlacementUnit
from mano.lifecycle.vim_port import Pop, UnitRequest, VnfDeployment
from mano.vim import make_driver
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


def test_pending_reservations_count_until_settled_or_expired():
    clock = Clock()
    pending = PendingPlacements(ttl_s=10, clock=clock)
    first = request("one")
    mapping = first_fit(pending.apply(first, settled=[]))
    pending.add(first, mapping)
    assert set(mapping.values()) == {"a"}
    second = pending.apply(request("two"), settled=[])
    assert [p.core_used for p in second.pops] == [3.0, 0.0]  # the first service is not deployed yet
    assert set(first_fit(second).values()) == {"a", "b"}     # so the second does not overflow pop a
    assert [p.core_used for p in pending.apply(request("x"), settled=["one-vnf_iperf"]).pops] == [2.0, 0.0]
    clock.now = 11
    assert [p.core_used for p in pending.apply(request("x"), settled=[]).pops] == [0.0, 0.0]
    assert len(pending) == 0


def test_an_instance_deployed_and_removed_between_two_placements_retires_its_reservation():
    """The VIM's usage no longer counts it, so neither may the reservation: a user who
    instantiates and terminates in a loop must see the same free capacity every time."""
    pending = PendingPlacements(ttl_s=600)
    first = request("one")
    pending.add(first, first_fit(pending.apply(first, settled=[])))
    vim = LocalVim({"emulated": make_driver("emulated", list(first.pops))})
    deployment = VnfDeployment(service_id="s", vnf_instance_id="one-vnf_iperf", vnf_name="iperf", pop="a",
                               units=(UnitRequest(id="vdu01", image="i", vcpus=1, memory_gb=1),))
    vim.deploy_vnf("emulated", deployment)
    assert vim.settled(pending.ids()) == {"one-vnf_iperf"}
    vim.remove_vnf("emulated", "s", "one-vnf_iperf")
    assert vim.settled(pending.ids()) == {"one-vnf_iperf"}  # removed still counts as settled
    assert [p.core_used for p in pending.apply(request("x"), settled=vim.settled(pending.ids())).pops] == [2.0, 0.0]
