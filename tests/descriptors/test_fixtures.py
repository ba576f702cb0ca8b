"""Every SONATA descriptor fixture loads into the typed models and resolves as SONATA would."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mano.descriptors import Nsd, Vnfd, load_descriptor, load_nsd, load_service, load_vnfd, resolve
from mano.errors import MissingVnfdError

from paths import SONATA

DESCRIPTOR_FILES = sorted(
    [*SONATA.glob("descriptors/*.yml"), *SONATA.glob("smr/nsd*.yml"), *SONATA.glob("smr/vnfd*.yml"),
     *SONATA.glob("placement/nsd_*.yml"), *SONATA.glob("placement/vnfd_*.yml")])


def test_fixture_set_is_found():
    # Guards against the glob silently matching nothing (which would make the next test vacuous).
    assert len(DESCRIPTOR_FILES) == 39


@pytest.mark.parametrize("path", DESCRIPTOR_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_descriptor_loads_and_round_trips(path: Path):
    raw = yaml.safe_load(path.read_text())
    model = load_descriptor(path)
    assert isinstance(model, Nsd if "network_functions" in raw else Vnfd)
    assert model.name == raw["name"] and model.vendor == raw["vendor"]
    # Unknown SONATA fields are kept: the dict form keeps every top-level key of the file.
    assert set(raw) <= set(model.to_dict())


def test_vnfd_fields_are_typed(sonata_fixtures):
    vnfd = load_vnfd(sonata_fixtures / "descriptors" / "firewall-vnfd.yml")
    unit = vnfd.virtual_deployment_units[0]
    assert unit.resource_requirements.cpu.vcpus == 1
    assert unit.resource_requirements.memory.gb == 2.0
    assert [r.condition for r in vnfd.monitoring_rules][0] == "vdu01:vm_cpu_perc > 10"
    assert vnfd.virtual_links[0].dhcp is True
    assert vnfd.key == ("eu.sonata-nfv", "firewall-vnf", "0.2")


def test_specific_managers_expose_their_types(sonata_fixtures):
    nsd = load_nsd(sonata_fixtures / "placement" / "nsd_10.yml")
    assert nsd.service_specific_managers[0].types == ("placement",)
    vnfd = load_vnfd(sonata_fixtures / "placement" / "vnfd_1_10.yml")
    assert vnfd.function_specific_managers[0].types == ("start",)


def test_soft_constraints_are_typed(sonata_fixtures):
    nsd = load_nsd(sonata_fixtures / "placement" / "nsd_17.yml")
    assert nsd.soft_constraints[0].objective == "affinity"
    assert "vforward_vnf_1_2" in nsd.soft_constraints[0].involved_actors


def test_models_are_immutable(sonata_fixtures):
    vnfd = load_vnfd(sonata_fixtures / "descriptors" / "iperf-vnfd.yml")
    with pytest.raises(Exception):
        vnfd.name = "other"  # type: ignore[misc]


def test_sonata_demo_fixture_reports_its_version_mismatch(sonata_fixtures):
    # The original demo NSD asks for version 0.1 of VNFDs that are at 0.2: each gap is named.
    with pytest.raises(MissingVnfdError) as info:
        load_service(sonata_fixtures / "descriptors" / "sonata-demo.yml")
    assert len(info.value.problems) == 3
    assert "exists at version 0.2" in str(info.value)
    assert "network_functions[1]" in str(info.value)


def test_example_demo_resolves_from_directory_and_from_nsd_file(demo_dir):
    from_dir = load_service(demo_dir)
    from_file = load_service(demo_dir / "sonata-demo-nsd.yml")
    assert set(from_dir.vnfds) == set(from_file.vnfds) == {"vnf_firewall", "vnf_iperf", "vnf_tcpdump"}
    assert from_dir.vnfd("vnf_iperf").name == "iperf-vnf"


def test_placement_case_resolves_with_explicit_vnfds(sonata_fixtures):
    p = sonata_fixtures / "placement"
    package = load_service(p / "nsd_10.yml", [p / "vnfd_1_10.yml", p / "vnfd_2_10.yml"])
    assert [package.vnfd(nf.vnf_id).version for nf in package.nsd.network_functions] == ["0.1.2", "0.2.2"]
    assert package.vnfd("vforward_vnf_1_2").vcpus == 2


def test_resolve_reports_a_missing_vnf(sonata_fixtures):
    p = sonata_fixtures / "placement"
    nsd = load_nsd(p / "nsd_10.yml")
    with pytest.raises(MissingVnfdError) as info:
        resolve(nsd, [load_vnfd(p / "vnfd_1_10.yml")])
    assert info.value.problems == [
        "network_functions[1]: no VNFD for 'vforward_vnf_2_2' (vendor 'everything-must-go', "
        "name 'vforward-vnf-2-2', version '0.2.2')"]


def test_a_loaded_package_crosses_processes_as_it_is():
    """``mano.instantiate`` hands the SLM actor the package it loaded (validated once), pickled."""
    import pickle

    from paths import EXAMPLES
    package = load_service(EXAMPLES / "sonata-demo")
    again = pickle.loads(pickle.dumps(package))
    assert again == package and again.vnfd("vnf_firewall") == package.vnfd("vnf_firewall")
    with pytest.raises(TypeError):  # still read-only on the other side
        again.vnfds["vnf_firewall"] = None  # type: ignore[index]
