"""The SOL005 NS lifecycle API over real HTTP (uvicorn on a free port, httpx as the client)
against the session's runtime: NsInstance and NsLcmOpOcc resources, the scale, heal and
terminate tasks with 202 and a Location, the operator's tasks on an operation occurrence, SOL013
filters, and ProblemDetails for every error."""
from __future__ import annotations

import io
import zipfile

import pytest

import mano
from conftest_runtime import used_cores, wait_until
from paths import EXAMPLES
from rest_client import ROOT, api_client, follow

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration

DEMO = EXAMPLES / "sonata-demo"


@pytest.fixture(scope="module")
def api(rt):
    with api_client(rt) as client:
        yield client


def test_an_instance_and_its_operations_as_sol005_resources(api, rt):
    svc = mano.instantiate(DEMO)
    got = api.get(f"{ROOT}/ns_instances/{svc.id}")
    assert got.status_code == 200
    ns = got.json()
    assert (ns["id"], ns["nsState"], ns["nsInstanceName"]) == (svc.id, "INSTANTIATED", svc.name)
    assert {v["id"] for v in ns["vnfInstance"]} == {v.id for v in svc.record.vnf_instances}
    assert {v["instantiatedVnfInfo"]["vnfState"] for v in ns["vnfInstance"]} == {"STARTED"}
    assert ns["_links"]["terminate"]["href"] == f"{ROOT}/ns_instances/{svc.id}/terminate"
    listed = api.get(f"{ROOT}/ns_instances", params={"filter": f"(eq,id,{svc.id})"}).json()
    assert [n["id"] for n in listed] == [svc.id]
    assert svc.id not in {n["id"] for n in api.get(f"{ROOT}/ns_instances",
                                                   params={"filter": "(eq,nsState,NOT_INSTANTIATED)"}).json()}

    [occ] = api.get(f"{ROOT}/ns_lcm_op_occs", params={"filter": f"(eq,nsInstanceId,{svc.id})"}).json()
    assert (occ["lcmOperationType"], occ["operationState"], occ["id"]) == ("INSTANTIATE", "COMPLETED",
                                                                          svc.last_operation)
    assert occ["stateEnteredTime"].endswith("Z") and occ["isCancelPending"] is False
    assert "package" not in occ["operationParams"]

    base = used_cores(rt)
    out = follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/scale", json={
        "scaleType": "SCALE_VNF", "scaleVnfData": [{"scaleVnfType": "SCALE_OUT",
                                                    "scaleByStepData": {"aspectId": "vnf_iperf", "numberOfSteps": 2}}]}))
    assert out["lcmOperationType"] == "SCALE" and out["manoOperationType"] == "scale_out"
    assert len(api.get(f"{ROOT}/ns_instances/{svc.id}").json()["vnfInstance"]) == 5 and used_cores(rt) == base + 2
    follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/scale", json={
        "scaleType": "SCALE_VNF", "scaleVnfData": [{"scaleVnfType": "SCALE_IN",
                                                    "scaleByStepData": {"aspectId": "vnf_iperf", "numberOfSteps": 1}}]}))
    victim = svc.record.vnf_instances[0].id
    rt.call("infrastructure-adaptor", "crash_vnf", victim)
    healed = follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/heal", json={"healVnfData": [{"vnfInstanceId": victim}]}))
    assert healed["lcmOperationType"] == "HEAL" and rt.call("flm", "status", victim) == "running"

    done = follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/terminate", json={}))
    assert done["lcmOperationType"] == "TERMINATE"
    ns = api.get(f"{ROOT}/ns_instances/{svc.id}").json()
    assert ns["nsState"] == "NOT_INSTANTIATED" and "vnfInstance" not in ns and ns["manoState"] == "TERMINATED"
    again = api.post(f"{ROOT}/ns_instances/{svc.id}/terminate", json={})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert again.json()["detail"] == "nsr already terminated" and again.json()["status"] == 409


def test_the_operator_cancels_and_rolls_back_an_operation_occurrence(api, rt):
    base = used_cores(rt)
    rt.call("infrastructure-adaptor", "inject_fault", {"vnf_name": "iperf-vnf", "delay_s": 2.0, "fail": False})
    svc = mano.instantiate(DEMO, wait=False)
    occ = f"{ROOT}/ns_lcm_op_occs/{svc.last_operation}"
    wait_until(lambda: any(s["name"] == "deploy_vnfs" and s["state"] == "RUNNING"
                           for s in api.get(occ).json()["manoSteps"]), timeout=30)
    forceful = api.post(f"{occ}/cancel", json={"cancelMode": "FORCEFUL"})
    assert forceful.status_code == 422 and "GRACEFUL only" in forceful.json()["detail"]
    cancelled = api.post(f"{occ}/cancel", json={"cancelMode": "GRACEFUL"})
    assert cancelled.status_code == 202 and cancelled.json()["isCancelPending"] is True
    assert cancelled.json()["cancelMode"] == "GRACEFUL"
    held = follow(api, cancelled, state="FAILED_TEMP")
    assert held["error"]["status"] == 409 and held["error"]["detail"].startswith("cancelled before step ")
    assert set(held["_links"]) >= {"retry", "rollback"} and "cancel" not in held["_links"]
    assert api.post(f"{occ}/cancel").status_code == 409  # not PROCESSING any more
    rolled = follow(api, api.post(f"{occ}/rollback"), state="ROLLED_BACK")
    assert rolled["operationState"] == "ROLLED_BACK" and used_cores(rt) == base
    refused = api.post(f"{occ}/retry")
    assert refused.status_code == 409 and "only a FAILED_TEMP operation can be retried" in refused.json()["detail"]


def test_every_error_is_a_problem_details(api):
    for method, path, body, status in [
        ("get", f"{ROOT}/ns_instances/no-such-id", None, 404),
        ("get", f"{ROOT}/ns_lcm_op_occs/no-such-op", None, 404),
        ("post", f"{ROOT}/ns_lcm_op_occs/no-such-op/retry", None, 404),
        ("post", f"{ROOT}/ns_instances/no-such-id/terminate", {}, 404),
        ("post", f"{ROOT}/ns_instances/no-such-id/scale", {"scaleType": "SCALE_NS"}, 422),
        ("post", f"{ROOT}/ns_instances/no-such-id/scale", {"scaleType": "SCALE_VNF", "scaleVnfData": []}, 400),
        ("post", f"{ROOT}/ns_instances/no-such-id/heal", {"healVnfData": "x"}, 400),
        ("get", f"{ROOT}/ns_instances?filter=nsState%3DREADY", None, 400),
        ("get", f"{ROOT}/no_such_resource", None, 404),
        ("delete", f"{ROOT}/ns_lcm_op_occs", None, 405),
    ]:
        response = api.request(method.upper(), path, json=body)
        assert response.status_code == status, (path, response.text)
        problem = response.json()
        assert problem["status"] == status and problem["title"] and problem["detail"], problem
    broken = api.post(f"{ROOT}/ns_instances/x/scale", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["status"] == 400
    assert api.get("/openapi.json").json()["paths"][f"{ROOT}/ns_lcm_op_occs/{{op_occ_id}}/cancel"]


def zipped(folder) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"package/{path.name}")  # nested: where a file sits does not matter
    return out.getvalue()


def test_onboard_create_and_instantiate_the_sol005_way(api, rt, tmp_path):
    info = api.post("/nsd/v1/ns_descriptors", json={"userDefinedData": {"team": "core"}})
    assert info.status_code == 201 and info.json()["nsdOnboardingState"] == "CREATED"
    content = info.headers["Location"] + "/nsd_content"
    assert api.put(content, content=b"nsd: x", headers={"content-type": "text/plain"}).status_code == 415
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "nsd.yml").write_text((DEMO / "sonata-demo-nsd.yml").read_text())  # its VNFDs left out
    refused = api.put(content, content=zipped(bad), headers={"content-type": "application/zip"})
    assert refused.status_code == 400 and "nsd_content: " in refused.json()["detail"]
    assert api.get(info.headers["Location"]).json()["nsdOnboardingState"] == "CREATED"
    assert api.put(content, content=zipped(DEMO), headers={"content-type": "application/zip"}).status_code == 204
    onboarded = api.get(info.headers["Location"]).json()
    assert onboarded["nsdOnboardingState"] == "ONBOARDED" and onboarded["nsdName"] == "sonata-demo"
    assert len(onboarded["vnfPkgIds"]) == 3 and onboarded["userDefinedData"] == {"team": "core"}
    again = api.put(content, content=zipped(DEMO), headers={"content-type": "application/zip"})
    assert again.status_code == 409

    assert api.post(f"{ROOT}/ns_instances", json={"nsdId": "nope", "nsName": "x"}).status_code == 404
    created = api.post(f"{ROOT}/ns_instances", json={"nsdId": onboarded["nsdId"], "nsName": "edge-demo",
                                                     "nsDescription": "made over SOL005"})
    assert created.status_code == 201, created.text
    ns = created.json()
    assert (ns["nsState"], ns["nsInstanceName"], ns["nsdInfoId"]) == ("NOT_INSTANTIATED", "edge-demo", onboarded["id"])
    assert created.headers["Location"] == f"{ROOT}/ns_instances/{ns['id']}"
    assert ns["id"] in {n["id"] for n in api.get(f"{ROOT}/ns_instances",
                                                 params={"filter": "(eq,nsState,NOT_INSTANTIATED)"}).json()}
    assert api.delete(info.headers["Location"]).status_code == 409  # an instance uses it

    wrong = api.post(f"{ROOT}/ns_instances/{ns['id']}/instantiate", json={"additionalParamsForNs": {"vims": "x"}})
    assert wrong.status_code == 400 and "'vims' is not one of" in wrong.json()["detail"]
    bogus = api.post(f"{ROOT}/ns_instances/{ns['id']}/instantiate", json={"additionalParamsForNs": {"policy": "bogus"}})
    assert bogus.status_code == 400 and "bad placement preference policy" in bogus.json()["detail"], bogus.text
    assert api.get(f"{ROOT}/ns_instances/{ns['id']}").json()["nsState"] == "NOT_INSTANTIATED"
    done = follow(api, api.post(f"{ROOT}/ns_instances/{ns['id']}/instantiate",
                                json={"nsFlavourId": "default", "additionalParamsForNs": {"policy": "fill first"}}))
    assert done["lcmOperationType"] == "INSTANTIATE" and done["nsInstanceId"] == ns["id"]
    running = api.get(f"{ROOT}/ns_instances/{ns['id']}").json()
    assert (running["nsState"], running["nsInstanceName"]) == ("INSTANTIATED", "edge-demo")
    assert len(running["vnfInstance"]) == 3
    unknown = api.post(f"{ROOT}/ns_instances/{ns['id']}/scale", json={"scaleType": "SCALE_VNF", "scaleVnfData": [
        {"scaleVnfType": "SCALE_OUT", "scaleByStepData": {"aspectId": "no-such-vnf"}}]})
    assert unknown.status_code == 400 and "no network function 'no-such-vnf'" in unknown.json()["detail"]
    assert mano.get(ns["id"]).status == "READY"  # the same id in mano's own API
    assert api.post(f"{ROOT}/ns_instances/{ns['id']}/instantiate", json={}).status_code == 409
    follow(api, api.post(f"{ROOT}/ns_instances/{ns['id']}/terminate", json={}))
