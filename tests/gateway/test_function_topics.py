"""SONATA's FLM topics (``mano.function.*``) translated onto mano's FLM: requests as SONATA's
SLM sends them, answered by the FLM's real core in-process (store in memory, emulated VIM)."""
from __future__ import annotations

import pytest

from mano.descriptors import load_service
from mano.gateway.core import Inbound
from mano.gateway.function_topics import CONFIGURE, DEPLOY, REMOVE, START, STOP, answer
from mano.lifecycle.local import LocalFunctions, LocalVim
from mano.lifecycle.vim_port import Pop
from mano.store.client import Store
from mano.vim.emulated import EmulatedVim
from paths import EXAMPLES

SERVICE = "7a1b2c3d-0000-4000-8000-000000000001"  # a SONATA SLM's service: mano has no record of it
VNF = "9f8e7d6c-0000-4000-8000-000000000002"


@pytest.fixture
def flm():
    with Store.in_memory() as store:
        vim = EmulatedVim([Pop(vim_uuid="pop-a", name="a", city="Athens", core_total=8, memory_total=16)], seed=1)
        yield LocalFunctions(store, LocalVim({"emulated": vim})), vim, store


@pytest.fixture
def vnfd():
    return load_service(EXAMPLES / "sonata-demo").vnfd("vnf_firewall").to_dict()


def ask(flm, topic, body, corr="corr-1"):
    return answer(Inbound(topic=topic, body=body, correlation_id=corr), flm, default_vim="emulated",
                  clock=lambda: 1234.5)


def deploy_body(vnfd, **extra):
    return {"vnfd": vnfd, "id": VNF, "vim_uuid": "pop-a", "serv_id": SERVICE, "flavour": None,
            "public_key": None, "private_key": None, **extra}


def test_deploy_start_configure_stop_remove_as_a_sonata_slm_drives_them(flm, vnfd):
    functions, vim, store = flm
    deployed = ask(functions, DEPLOY, deploy_body(vnfd))
    assert deployed["status"] == "COMPLETED" and deployed["error"] is None and deployed["ip_mapping"] == []
    assert deployed["vnfr"]["id"] == VNF and deployed["vnfr"]["name"] == vnfd["name"]
    assert {c["vim_id"] for u in deployed["vnfr"]["virtual_deployment_units"] for c in u["vnfc_instance"]} == {"pop-a"}
    assert vim.vnf_status(VNF) == "running" and store.vnfr.get(VNF).service_id == SERVICE
    assert store.vnfr.get(VNF).vnf_state.value == "DEPLOYED" and store.vnfr.get(VNF).pop == "pop-a"

    started = ask(functions, START, {"vnf_id": VNF, "vnfd": vnfd, "serv_id": SERVICE,
                                     "data": {"vnfr": deployed["vnfr"], "vnfd": vnfd}})
    assert started == {"timestamp": 1234.5, "error": None, "vnf_id": VNF, "status": "COMPLETED"}
    assert store.vnfr.get(VNF).vnf_state.value == "RUNNING"

    envs = [{"cdu_id": f"vdu01-{VNF}", "envs": {"FW_POLICY": "drop"}}]  # an FSM's list, as SONATA passes it on
    configured = ask(functions, CONFIGURE, {"vnf_id": VNF, "vnfd": vnfd, "serv_id": SERVICE,
                                            "data": {"generic_envs": envs}})
    assert configured["status"] == "COMPLETED" and configured["message"] == "Env injection successful"
    assert vim.configuration(VNF) == {"FW_POLICY": "drop"} and store.vnfr.get(VNF).envs == {"FW_POLICY": "drop"}

    stopped = ask(functions, STOP, {"vnf_id": VNF, "vnfd": vnfd, "serv_id": SERVICE, "data": {}})
    assert stopped["status"] == "COMPLETED" and store.vnfr.get(VNF).vnf_state.value == "STOPPED"
    removed = ask(functions, REMOVE, {"vnf_id": VNF, "vim_id": "pop-a", "serv_id": SERVICE})
    assert removed["status"] == "COMPLETED" and removed["vnf_id"] == VNF
    assert vim.vnf_status(VNF) == "absent" and store.vnfr.get(VNF).vnf_state.value == "TERMINATED"
    assert vim.list_pops()[0].core_used == 0


def test_a_start_with_generic_envs_injects_them_first(flm, vnfd):
    functions, vim, _ = flm
    ask(functions, DEPLOY, deploy_body(vnfd))
    started = ask(functions, START, {"vnf_id": VNF, "serv_id": SERVICE, "data": {"generic_envs": {"MODE": "fast"}}})
    assert started["status"] == "COMPLETED" and started["message"] == "Env injection successful"
    assert vim.configuration(VNF) == {"MODE": "fast"}


def test_a_deployment_flavour_replaces_the_vnfd_s_fields(flm, vnfd):
    functions, vim, _ = flm
    unit = dict(vnfd["virtual_deployment_units"][0])
    big = {**unit, "resource_requirements": {**unit["resource_requirements"],
                                             "cpu": {"vcpus": 4}}}
    flavoured = {**vnfd, "deployment_flavours": [{"name": "gold", "virtual_deployment_units": [big]}]}
    assert ask(functions, DEPLOY, deploy_body(flavoured, flavour="gold"))["status"] == "COMPLETED"
    assert vim.list_pops()[0].core_used == 4
    other = ask(functions, DEPLOY, deploy_body(flavoured, id="another", flavour="silver"))
    assert other == {"status": "failed", "timestamp": 1234.5,
                     "error": "flavour 'silver' is not one of the VNFD's deployment_flavours (gold)"}


@pytest.mark.parametrize("topic, body, error", [
    (START, ["not", "a", "dict"], "Payload is not a dictionary"),
    (REMOVE, {"serv_id": SERVICE}, "vnf_uuid key not provided"),
    (STOP, {"vnf_id": VNF}, "serv_id key not provided"),
    (START, {"vnf_id": VNF, "serv_id": SERVICE, "data": "x"}, "data: Input should be a valid dictionary"),
])
def test_a_request_that_cannot_be_read_gets_sonatas_error(flm, topic, body, error):
    assert ask(flm[0], topic, body) == {"status": "ERROR", "error": error}


def test_deploy_errors_are_sonatas_failed_replies(flm, vnfd):
    functions, vim, _ = flm
    assert ask(functions, DEPLOY, {"vnfd": vnfd, "id": VNF}) == {
        "status": "failed", "timestamp": 1234.5, "error": "vim_uuid: required field is missing"}
    broken = ask(functions, DEPLOY, deploy_body({**vnfd, "virtual_deployment_units": "many"}))
    assert broken["status"] == "failed" and broken["error"].startswith("vnfd.virtual_deployment_units: ")
    too_big = ask(functions, DEPLOY, deploy_body(vnfd, vim_uuid="no-such-pop"))
    assert too_big["status"] == "failed" and "no-such-pop" in too_big["error"]
    assert ask(functions, DEPLOY, deploy_body(vnfd), corr=None)["error"] == "Please provide a correlation id."
    malformed = answer(Inbound(topic=DEPLOY, body=None, correlation_id="c", malformed="not YAML: line 1"),
                       functions, default_vim="emulated")
    assert malformed["status"] == "failed" and "not YAML: line 1" in malformed["error"]
    assert vim.deployments() == {}


def test_an_action_on_a_vnf_mano_does_not_know_fails_with_the_reason(flm):
    failed = ask(flm[0], START, {"vnf_id": "nope", "serv_id": SERVICE, "data": {}})
    assert failed["status"] == "FAILED" and failed["vnf_id"] == "nope" and "nope" in failed["error"]
