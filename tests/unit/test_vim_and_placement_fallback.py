"""Topology files, the emulated VIM's accounting, and the first-fit fallback placement."""
from __future__ import annotations

import pytest

from mano.descriptors import load_service
from mano.errors import CapacityError, DescriptorError, InfeasiblePlacementError, VimError
from mano.lifecycle.first_fit import first_fit
from mano.lifecycle.ports import PlacementRequest, PlacementUnit
from mano.settings import Settings
from mano.vim import load_topology
from mano.lifecycle.vim_port import NetworkRequest, UnitRequest, VnfDeployment
from mano.vim.emulated import EmulatedVim, FaultPlan
from paths import EXAMPLES, SONATA


def test_fixture_topologies_and_the_default_load():
    pops = load_topology(SONATA / "placement" / "infrastructure_5.yml")
    assert [p.name for p in pops] == ["Athens", "Aveiro", "Ghent"]
    assert len(load_topology()) == 3


@pytest.mark.parametrize("entries, message", [
    ([], "non-empty list"),
    ([{"vim_uuid": "a", "vim_name": "A", "core_total": -1, "memory_total": 1}], "greater than or equal to 0"),
    ([{"vim_uuid": "a", "vim_name": "A", "core_total": 1, "memory_total": 1, "type": "mainframe"}], "pattern"),
    ([{"vim_uuid": "a", "vim_name": "A", "core_total": 1, "memory_total": 1}] * 2, "duplicate vim_uuid"),
])
def test_bad_topologies(entries, message):
    with pytest.raises(DescriptorError, match=message):
        load_topology(entries)


def deployment(vnf_id, cores=2.0, memory=4.0, pop="a"):
    return VnfDeployment(service_id="s", vnf_instance_id=vnf_id, vnf_name="v", pop=pop,
                         units=(UnitRequest(id="vdu01", image="x", vcpus=cores, memory_gb=memory,
                                            connection_points=("vdu01:eth0",)),))


def test_emulated_vim_reserves_releases_and_is_idempotent():
    vim = EmulatedVim(load_topology([{"vim_uuid": "a", "vim_name": "A", "core_total": 4, "memory_total": 8}]))
    first = vim.deploy_vnf(deployment("v1"))
    assert vim.deploy_vnf(deployment("v1")) == first  # same instance id: same deployment
    assert vim.list_pops()[0].core_used == 2
    vim.deploy_vnf(deployment("v2"))
    with pytest.raises(CapacityError, match="PoP A .* has 0 free cores; v needs 2"):
        vim.deploy_vnf(deployment("v3"))
    vim.remove_vnf("s", "v1")
    vim.remove_vnf("s", "v1")  # idempotent
    assert vim.list_pops()[0].core_used == 2
    with pytest.raises(VimError, match="unknown PoP 'b'"):
        vim.deploy_vnf(deployment("v4", pop="b"))


def test_emulated_networks_give_addresses_in_their_subnet():
    vim = EmulatedVim(load_topology())
    pop = vim.list_pops()[0].vim_uuid
    (net,) = vim.create_networks("s", [NetworkRequest("mgmt")])
    d = VnfDeployment(service_id="s", vnf_instance_id="v", vnf_name="v", pop=pop,
                      units=(UnitRequest(id="vdu01", image="x", vcpus=1, memory_gb=1, connection_points=("cp",)),),
                      networks={"cp": net.id})
    address = vim.deploy_vnf(d).units[0].addresses["cp"]
    assert address.startswith(net.cidr.rsplit(".", 1)[0])


def test_fault_plans_skip_then_fail():
    vim = EmulatedVim(load_topology([{"vim_uuid": "a", "vim_name": "A", "core_total": 40, "memory_total": 80}]))
    vim.inject_fault(FaultPlan(skip=1, times=1, message="boom"))
    vim.deploy_vnf(deployment("v1"))
    with pytest.raises(VimError, match="boom"):
        vim.deploy_vnf(deployment("v2"))
    vim.deploy_vnf(deployment("v3"))


def test_first_fit_respects_capacity_pins_and_blacklist():
    pkg = load_service(EXAMPLES / "sonata-demo")
    pops = tuple(load_topology([{"vim_uuid": "a", "vim_name": "A", "vim_city": "Athens", "core_total": 2, "memory_total": 8},
                                {"vim_uuid": "b", "vim_name": "B", "core_total": 8, "memory_total": 8}]))
    units = tuple(PlacementUnit(nf.vnf_id, nf.vnf_id, pkg.vnfd(nf.vnf_id).to_dict()) for nf in pkg.nsd.network_functions)
    mapping = first_fit(PlacementRequest("s", pkg.nsd.to_dict(), units, pops))
    assert sorted(mapping.values()) == ["a", "a", "b"]
    pinned = first_fit(PlacementRequest("s", pkg.nsd.to_dict(), units, pops, pinned={"vnf_firewall": "b"}))
    assert pinned["vnf_firewall"] == "b"
    assert set(first_fit(PlacementRequest("s", pkg.nsd.to_dict(), units, pops, blacklist=("Athens",))).values()) == {"b"}
    # by uuid too, as SONATA's placement plugin reads it (and the engine does)
    assert set(first_fit(PlacementRequest("s", pkg.nsd.to_dict(), units, pops, blacklist=("a",))).values()) == {"b"}
    with pytest.raises(InfeasiblePlacementError, match="no PoP is available"):
        first_fit(PlacementRequest("s", pkg.nsd.to_dict(), units, pops, blacklist=("Athens", "B")))


def test_settings_from_env(tmp_path):
    s = Settings.from_env({"MANO_HOME": str(tmp_path), "MANO_IDLE_PASSIVATE_S": "2.5", "MANO_DASHBOARD": "0",
                           "MANO_MONGO_URL": "mongodb://x"})
    assert s.home == tmp_path and s.idle_passivate_s == 2.5 and s.dashboard is False and s.mongo_url == "mongodb://x"
    with pytest.raises(ValueError, match="MANO_STEP_TIMEOUT_S='soon' is not a valid float"):
        Settings.from_env({"MANO_STEP_TIMEOUT_S": "soon"})
