"""SONATA's northbound contract without a broker: request parsing and reply bodies."""
from __future__ import annotations

import pytest
import yaml

from mano.gateway import northbound as nb
from mano.lifecycle.states import OperationState, OperationType
from paths import EXAMPLES

DEMO = EXAMPLES / "sonata-demo"


def create_body(**overrides):
    body = {"NSD": yaml.safe_load((DEMO / "sonata-demo-nsd.yml").read_text()),
            "VNFD0": yaml.safe_load((DEMO / "iperf-vnfd.yml").read_text()),
            "VNFD1": yaml.safe_load((DEMO / "firewall-vnfd.yml").read_text()),
            "VNFD2": yaml.safe_load((DEMO / "tcpdump-vnfd.yml").read_text()),
            "user_data": {"customer": {"sla_id": "sla-1", "policy_id": "pol-1",
                                       "policies": {"blacklist": ["Ghent"]}}},
            "mapping": {"network_functions": [{"vnf_id": "vnf_iperf", "vim_id": "pop-2"}]}}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_create_is_parsed_with_pins_and_blacklist():
    req = nb.parse(nb.CREATE, create_body(VNFD10=yaml.safe_load((DEMO / "iperf-vnfd.yml").read_text())))
    assert req.op_type == OperationType.INSTANTIATE
    assert [v["name"] for v in req.vnfds] == ["iperf-vnf", "firewall-vnf", "tcpdump-vnf", "iperf-vnf"]  # VNFD10 last
    assert req.params["pinned"] == {"vnf_iperf": "pop-2"} and req.params["blacklist"] == ["Ghent"]


@pytest.mark.parametrize("overrides, message", [
    ({"NSD": None}, "No NSD key in message"),
    ({"VNFD0": None, "VNFD1": None, "VNFD2": None}, "No VNFD key in message"),
    ({"user_data": None}, "No user_data in message"),
    ({"NSD": "nsd"}, "NSD is not a dict."),
    ({"VNFD1": {}}, "empty VNFD."),
])
def test_create_errors_use_sonata_texts(overrides, message):
    with pytest.raises(nb.GatewayRequestError, match=f"^{message}$"):
        nb.parse(nb.CREATE, create_body(**overrides))


def test_a_body_that_is_not_a_mapping():
    with pytest.raises(nb.GatewayRequestError, match="payload is not a dict."):
        nb.parse(nb.TERMINATE, ["a", "list"])
    with pytest.raises(nb.GatewayRequestError, match="No service_instance_uuid in message"):
        nb.parse(nb.TERMINATE, {})


def test_scale_maps_vnfd_uuid_to_the_network_function():
    vnfds = {"vnf_iperf": {"uuid": "u-iperf", "name": "iperf-vnf"}, "vnf_firewall": {"uuid": "u-fw"}}
    lookup = lambda sid: vnfds  # noqa: E731
    out = nb.parse(nb.SCALE, {"service_instance_uuid": "s", "scaling_type": "ADD_VNF", "vnfd_uuid": "u-fw",
                              "number_of_instances": 2, "constraints": {"vim_uuid": "pop-1"}}, lookup)
    assert (out.op_type, dict(out.params)) == (OperationType.SCALE_OUT, {"vnf_id": "vnf_firewall", "count": 2, "pop": "pop-1"})
    assert out.extra_reply == {"scaling_type": "ADD_VNF"}
    by_instance = nb.parse(nb.SCALE, {"service_instance_uuid": "s", "scaling_type": "removevnf", "vnf_uuid": "v1"}, lookup)
    assert dict(by_instance.params) == {"vnf_instance_id": "v1"}
    with pytest.raises(nb.GatewayRequestError, match="Unknown scaling_type 'grow'") as info:
        nb.parse(nb.SCALE, {"service_instance_uuid": "s", "scaling_type": "grow"}, lookup)
    assert info.value.extra == {"scaling_type": "grow"}
    with pytest.raises(nb.GatewayRequestError, match="No VNFD with uuid nope"):
        nb.parse(nb.SCALE, {"service_instance_uuid": "s", "scaling_type": "addvnf", "vnfd_uuid": "nope"}, lookup)


def test_replies_have_sonata_shapes():
    assert nb.intermediate(OperationType.INSTANTIATE, "s1")["status"] == "INSTANTIATING"
    ready = nb.final(OperationType.INSTANTIATE, OperationState.COMPLETED, None, nsr={"id": "s1"}, vnfrs=[],
                     user_data={"customer": {"sla_id": "sla-1", "policy_id": "pol-1"}})
    assert {k: ready[k] for k in ("status", "error", "sla_id", "policy_id")} == {
        "status": "READY", "error": None, "sla_id": "sla-1", "policy_id": "pol-1"}
    term = nb.final(OperationType.TERMINATE, OperationState.COMPLETED, None, nsr={}, vnfrs=[], duration=1.5)
    assert term["workflow"] == "termination" and term["duration"] == 1.5
    failed = nb.final(OperationType.SCALE_OUT, OperationState.ROLLED_BACK, "step place failed: no room", nsr=None,
                      vnfrs=None, extra={"scaling_type": "addvnf"})
    assert failed == {"status": "ERROR", "error": "step place failed: no room", "timestamp": failed["timestamp"],
                      "scaling_type": "addvnf"}


def test_scaling_type_of_the_wrong_type_is_an_error_not_a_crash():
    # found by bench/fuzz.py: an unhashable scaling_type used to raise TypeError
    for bad in ({"a": 1}, ["addvnf"], 3):
        with pytest.raises(nb.GatewayRequestError, match="scaling_type must be addvnf or removevnf"):
            nb.parse(nb.SCALE, {"service_instance_uuid": "s", "scaling_type": bad}, lambda sid: {})
