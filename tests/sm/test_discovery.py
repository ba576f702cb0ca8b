"""Discovery follows SONATA's rules (SONATA.md §3): handled only when one SM is typed, then all."""
from __future__ import annotations

import pytest
from paths import SONATA
from sm_helpers import PACKAGES, demo_args, load_yaml, package_args, sm

from mano.errors import DescriptorError
from mano.records import SmType
from mano.sm.discovery import RunnerKind, discover, fsm_topic, function_id, runner_kind, ssm_topic


@pytest.mark.parametrize("name", PACKAGES)
def test_every_example_package_declares_its_sm(name):
    nsd, vnfds = package_args(name)
    found = discover("svc-1", nsd, vnfds)
    assert len(found.specs) == 1 and not found.warnings
    spec = found.specs[0]
    assert spec.runner is RunnerKind.PYTHON and spec.image.startswith("python://examples.ssm.")


def test_example_kinds_and_ids():
    placement = discover("s", *package_args("placement-pinning")).specs[0]
    assert (placement.sm_type, placement.sm_id, placement.kinds) == (SmType.SSM, "pin-by-rule", ("placement",))
    assert placement.options == {"rules": "vnf_firewall=Athens, vnf_*=Ghent"}
    assert placement.topic == "generic.ssm.s" == ssm_topic("s")
    fsm = discover("s", *package_args("fsm-start-stop")).specs[0]
    assert fsm.sm_type is SmType.FSM and fsm.sm_id == "vnf_firewall/firewall-env"
    assert fsm.kinds == ("start", "stop", "configure", "state")  # registered under each type value
    assert fsm.vnf_id == "vnf_firewall" and fsm.topic == f"generic.fsm.{function_id('s', 'vnf_firewall')}"


def test_sonata_fixture_without_types_is_not_handled():
    # SONATA's SMR fixtures declare SMs with options but no `type`: the SLM/FLM never on-board them
    nsd = load_yaml(SONATA / "smr" / "nsd.yml")
    vnfd1 = load_yaml(SONATA / "smr" / "vnfd1.yml")
    vnfd2 = load_yaml(SONATA / "smr" / "vnfd2.yml")
    assert discover("s", nsd, {"vnf_iperf": vnfd1, "vnf_vtc": vnfd2}).specs == ()


def test_one_typed_sm_brings_every_listed_sm():
    nsd = load_yaml(SONATA / "smr" / "nsd.yml")
    nsd["service_specific_managers"][1]["options"].append({"key": "type", "value": "placement"})
    specs = discover("s", nsd, {}).specs
    assert [s.sm_id for s in specs] == ["sonssmservice1dumb1", "sonssmservice1placement1"]
    assert [s.kinds for s in specs] == [(), ("placement",)]
    assert all(s.runner is RunnerKind.CONTAINER for s in specs)  # hadik3r/... are Docker images


def test_each_vnfd_list_is_judged_alone():
    vnfd1, vnfd2 = load_yaml(SONATA / "smr" / "vnfd1.yml"), load_yaml(SONATA / "smr" / "vnfd2.yml")
    vnfd2["function_specific_managers"][0]["options"].append({"key": "type", "value": "configure"})
    specs = discover("s", {}, {"vnf_a": vnfd1, "vnf_b": vnfd2}).specs
    assert [s.sm_id for s in specs] == ["vnf_b/sonfsmservice1firewallconfiguration1",
                                        "vnf_b/sonfsmservice1function1monitoring1"]


def test_two_vnfs_of_one_vnfd_get_their_own_fsms():
    fsm = [sm("env", "python://examples.ssm.fsm:EnvStartStop", "start")]
    nsd, vnfds = demo_args(fsms={"vnf_iperf": fsm, "vnf_tcpdump": fsm})
    specs = discover("s", nsd, vnfds).specs
    assert [s.sm_id for s in specs] == ["vnf_iperf/env", "vnf_tcpdump/env"]
    assert len({s.topic for s in specs}) == 2


def test_warnings_for_duplicates_unknown_and_shared_kinds():
    ssms = [sm("a", "python://m:A", "placement"), sm("a", "python://m:A2", "task"),
            sm("b", "python://m:B", "placement", "fly"), sm("c", "python://m:C", "scale")]
    found = discover("s", demo_args(ssms)[0], {})
    assert [s.sm_id for s in found.specs] == ["a", "b", "c"]
    text = " | ".join(found.warnings)
    assert "'a' is listed twice" in text and "'fly'" in text and "both of type 'placement'" in text
    assert "'scale'" not in text  # a SONATA kind mano does not call: recorded, no warning


def test_malformed_entry_names_its_path():
    nsd = demo_args([sm("a", "python://m:A", "task"), {"id": "b", "options": []}])[0]
    with pytest.raises(DescriptorError, match=r"service_specific_managers\[1\]\.image"):
        discover("s", nsd, {})


def test_runner_kind_and_topics():
    assert runner_kind("python://examples.ssm.task:MoveBefore") is RunnerKind.PYTHON
    assert runner_kind("mano/sm-python:latest") is RunnerKind.CONTAINER
    assert fsm_topic("s", "v") == fsm_topic("s", "v") != fsm_topic("s", "w")
