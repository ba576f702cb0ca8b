"""SOL005 subscriptions and notifications over real HTTP, both ways: the API served on the
session runtime, a receiver on a real socket. The receiver is checked before it is subscribed,
hears of every change of an operation in order and signed, and hears of all of them after it
was down while they happened."""
from __future__ import annotations

import pytest

import mano
from conftest_runtime import wait_until
from paths import EXAMPLES
from rest_client import ROOT, Receiver, api_client, follow, free_port

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration

DEMO = EXAMPLES / "sonata-demo"


@pytest.fixture(scope="module")
def api(rt):
    with api_client(rt) as client:
        yield client


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def of_operation(receiver: Receiver, op_id: str) -> list[tuple[str, str]]:
    return [(b["notificationStatus"], b["operationState"]) for b in receiver.bodies() if b.get("nsLcmOpOccId") == op_id]


def test_subscribe_check_the_callback_and_refuse_what_mano_cannot_do(api, receiver):
    nobody = api.post(f"{ROOT}/subscriptions", json={"callbackUri": f"http://127.0.0.1:{free_port()}/x"})
    assert nobody.status_code == 422 and "the test GET failed" in nobody.json()["detail"]
    bad = api.post(f"{ROOT}/subscriptions", json={"callbackUri": receiver.url, "filter": {"operationTypes": ["X"]}})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("filter.operationTypes.0: ")
    oauth = api.post(f"{ROOT}/subscriptions", json={"callbackUri": receiver.url, "authentication": {
        "authType": ["TLS_CERT"]}})
    assert oauth.status_code == 422 and "BASIC only" in oauth.json()["detail"]

    made = api.post(f"{ROOT}/subscriptions", json={"callbackUri": receiver.url,
                                                   "filter": {"notificationTypes": [
                                                       "NsIdentifierCreationNotification"]}})
    assert made.status_code == 201, made.text
    sub = made.json()
    assert sub["signingSecret"] and made.headers["Location"] == f"{ROOT}/subscriptions/{sub['id']}"
    same = api.post(f"{ROOT}/subscriptions", json={"callbackUri": receiver.url, "filter": {
        "notificationTypes": ["NsIdentifierCreationNotification"]}}, follow_redirects=False)
    assert same.status_code == 303 and same.headers["Location"] == made.headers["Location"]
    got = api.get(made.headers["Location"]).json()
    assert got["callbackUri"] == receiver.url and "signingSecret" not in got
    assert sub["id"] in {s["id"] for s in api.get(f"{ROOT}/subscriptions").json()}
    assert api.delete(made.headers["Location"]).status_code == 204
    assert api.get(made.headers["Location"]).status_code == 404
    assert api.delete(made.headers["Location"]).status_code == 404


def test_every_change_reaches_the_receiver_in_order_even_after_it_was_down(api, rt, receiver):
    from mano.rest.notifications import SIGNATURE_HEADER, verify
    made = api.post(f"{ROOT}/subscriptions", json={
        "callbackUri": receiver.url, "filter": {"notificationTypes": ["NsLcmOperationOccurrenceNotification"]},
        "authentication": {"authType": ["BASIC"], "paramsBasic": {"userName": "nfvo", "password": "s3cret"}}})
    assert made.status_code == 201, made.text
    sub = made.json()
    try:
        svc = mano.instantiate(DEMO)
        op = svc.last_operation
        wait_until(lambda: of_operation(receiver, op) == [("START", "PROCESSING"), ("RESULT", "COMPLETED")],
                   timeout=30)
        for headers, body in receiver.received:
            assert verify(sub["signingSecret"], headers[SIGNATURE_HEADER.lower()], body)
            assert headers["authorization"] == "Basic bmZ2bzpzM2NyZXQ="

        receiver.stop()  # down while the service is scaled and terminated
        scaled = follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/scale", json={
            "scaleType": "SCALE_VNF", "scaleVnfData": [{"scaleVnfType": "SCALE_OUT",
                                                        "scaleByStepData": {"aspectId": "vnf_firewall"}}]}))
        ended = follow(api, api.post(f"{ROOT}/ns_instances/{svc.id}/terminate", json={}))
        # the four changes are queued, and the first has been tried more than once
        wait_until(lambda: len(owed := rt.store.notifications.owed(sub["id"])) == 4 and owed[0].attempts >= 2,
                   timeout=30)
        owed = rt.store.notifications.owed(sub["id"])
        assert "Connection refused" in (owed[0].last_error or "") and {o.attempts for o in owed[1:]} == {0}

        receiver.start()  # back on its port: the notifications owed arrive, in order
        wait_until(lambda: of_operation(receiver, ended["id"]) == [("START", "PROCESSING"), ("RESULT", "COMPLETED")],
                   timeout=60)
        assert of_operation(receiver, scaled["id"]) == [("START", "PROCESSING"), ("RESULT", "COMPLETED")]
        order = [b["nsLcmOpOccId"] for b in receiver.bodies()]
        assert order == [op, op, scaled["id"], scaled["id"], ended["id"], ended["id"]]
        assert {b["operation"] for b in receiver.bodies()} == {"INSTANTIATE", "SCALE", "TERMINATE"}
        assert rt.store.notifications.owed(sub["id"]) == []
    finally:
        api.delete(f"{ROOT}/subscriptions/{sub['id']}")


def test_creating_an_ns_instance_is_notified(api, rt, receiver, tmp_path):
    import io
    import zipfile
    made = api.post(f"{ROOT}/subscriptions", json={"callbackUri": receiver.url, "filter": {
        "notificationTypes": ["NsIdentifierCreationNotification"]}}).json()
    try:
        info = api.post("/nsd/v1/ns_descriptors", json={}).headers["Location"]
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            for path in sorted(DEMO.iterdir()):
                archive.write(path, path.name)
        assert api.put(f"{info}/nsd_content", content=package.getvalue(),
                       headers={"content-type": "application/zip"}).status_code == 204
        # by its NsdInfo id: other tests onboard the same NSD (the same nsdId)
        created = api.post(f"{ROOT}/ns_instances", json={"nsdId": api.get(info).json()["id"],
                                                         "nsName": "notified"}).json()
        wait_until(lambda: [b["nsInstanceId"] for b in receiver.bodies()] == [created["id"]], timeout=20)
        body = receiver.bodies()[0]
        assert (body["notificationType"], body["subscriptionId"]) == ("NsIdentifierCreationNotification", made["id"])
    finally:
        api.delete(f"{ROOT}/subscriptions/{made['id']}")
