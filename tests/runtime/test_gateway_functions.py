"""SONATA's FLM topics (``mano.function.*``) against a real RabbitMQ and a real runtime: a client
that knows only SONATA's wire contract drives a VNF as SONATA's SLM drives its FLM (``reply_to``
= the topic, a fresh correlation id, a YAML body) and reads each reply on the same topic; the
runtime's VIM and records show what happened."""
from __future__ import annotations

import uuid

import pytest

from gatekeeper import Gatekeeper, own_gateway
from mano.descriptors import load_service
from paths import EXAMPLES

pytestmark = pytest.mark.integration

DEPLOY, START, CONFIGURE, STOP, REMOVE = (f"mano.function.{verb}" for verb in
                                          ("deploy", "start", "configure", "stop", "remove"))


@pytest.fixture(scope="module")
def slm(rt):
    """A SONATA SLM's side of the FLM topics, on a gateway of its own exchange."""
    with own_gateway(rt.settings, "son-kernel-flm") as settings:
        asker = Gatekeeper(settings.broker_url, settings.exchange, durable=True,
                           topics=(DEPLOY, START, CONFIGURE, STOP, REMOVE))
        yield asker
        asker.close()


def asked(slm, topic, body, **kwargs) -> dict:
    corr = slm.send(topic, body, **kwargs)
    (reply,) = slm.wait(corr, 1, timeout=60)
    return reply


def test_a_sonata_slm_deploys_starts_configures_stops_and_removes_a_vnf(slm, rt):
    vnfd = load_service(EXAMPLES / "sonata-demo").vnfd("vnf_firewall").to_dict()
    service, vnf = str(uuid.uuid4()), str(uuid.uuid4())
    pop = rt.call("infrastructure-adaptor", "list_pops", "emulated")[0].vim_uuid
    deployed = asked(slm, DEPLOY, {"vnfd": vnfd, "id": vnf, "vim_uuid": pop, "serv_id": service, "flavour": None,
                                   "public_key": None, "private_key": None})
    assert (deployed["status"], deployed["error"], deployed["ip_mapping"]) == ("COMPLETED", None, [])
    assert deployed["vnfr"]["id"] == vnf and deployed["vnfr"]["status"] == "normal operation"
    assert rt.call("infrastructure-adaptor", "vnf_status", "emulated", vnf) == "running"

    started = asked(slm, START, {"vnf_id": vnf, "vnfd": vnfd, "serv_id": service,
                                 "data": {"vnfr": deployed["vnfr"], "vnfd": vnfd,
                                          "generic_envs": {"FW_POLICY": "drop"}}})
    assert started["status"] == "COMPLETED" and started["vnf_id"] == vnf and started["error"] is None
    assert rt.store.vnfr.get(vnf).vnf_state.value == "RUNNING"
    assert rt.store.vnfr.get(vnf).envs == {"FW_POLICY": "drop"}
    configured = asked(slm, CONFIGURE, {"vnf_id": vnf, "serv_id": service,
                                        "data": {"generic_envs": [{"cdu_id": f"vdu01-{vnf}",
                                                                   "envs": {"FW_POLICY": "accept"}}]}})
    assert configured["status"] == "COMPLETED" and configured["message"] == "Env injection successful"
    assert rt.store.vnfr.get(vnf).envs == {"FW_POLICY": "accept"}
    assert asked(slm, STOP, {"vnf_id": vnf, "serv_id": service, "data": {}})["status"] == "COMPLETED"
    assert rt.store.vnfr.get(vnf).vnf_state.value == "STOPPED"
    removed = asked(slm, REMOVE, {"vnf_id": vnf, "vim_id": pop, "serv_id": service})
    assert removed["status"] == "COMPLETED"
    assert rt.call("infrastructure-adaptor", "vnf_status", "emulated", vnf) == "absent"
    assert rt.store.vnfr.get(vnf).vnf_state.value == "TERMINATED"


def test_broken_and_unknown_requests_get_sonatas_errors_and_the_next_is_still_answered(slm):
    broken = asked(slm, START, None, raw=b"vnf_id: [unclosed")
    assert broken["status"] == "ERROR" and "not valid YAML/JSON" in broken["error"]
    assert asked(slm, REMOVE, {"serv_id": "s"}) == {"status": "ERROR", "error": "vnf_uuid key not provided"}
    unknown = asked(slm, STOP, {"vnf_id": "no-such-vnf", "serv_id": "s", "data": {}})
    assert unknown["status"] == "FAILED" and "no-such-vnf" in unknown["error"]
    failed = asked(slm, DEPLOY, {"id": "x", "serv_id": "s", "vim_uuid": "p"})
    assert failed["status"] == "failed" and failed["error"] == "vnfd: required field is missing"
