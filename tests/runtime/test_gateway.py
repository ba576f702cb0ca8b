"""The AMQP gateway against a real RabbitMQ: a gatekeeper that knows only SONATA's wire contract."""
from __future__ import annotations

import os
import random

import pytest
import yaml

from gatekeeper import Gatekeeper, own_gateway
from mano.messaging.testing import start_broker_app, stop_broker_app
from paths import EXAMPLES

pytestmark = pytest.mark.integration
DEMO = EXAMPLES / "sonata-demo"
CREATE, TERMINATE, SCALE = "service.instances.create", "service.instance.terminate", "service.instance.scale"


def demo_request(**overrides):
    body = {"NSD": yaml.safe_load((DEMO / "sonata-demo-nsd.yml").read_text()),
            "VNFD0": yaml.safe_load((DEMO / "firewall-vnfd.yml").read_text()),
            "VNFD1": yaml.safe_load((DEMO / "iperf-vnfd.yml").read_text()),
            "VNFD2": yaml.safe_load((DEMO / "tcpdump-vnfd.yml").read_text()),
            "user_data": {"customer": {"sla_id": "sla-7", "policy_id": "pol-3", "email": "a@b.c"}}}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture(scope="module")
def gk(rt):
    with own_gateway(rt.settings, "son-kernel-test") as settings:
        keeper = Gatekeeper(settings.broker_url, settings.exchange, durable=True)
        yield keeper
        keeper.close()


def test_instantiate_scale_terminate_over_amqp(gk, rt):
    corr = gk.send(CREATE, demo_request())
    ready = gk.final(corr)
    replies = gk.replies[corr]
    assert replies[0]["status"] == "INSTANTIATING" and replies[0]["error"] is None
    service_id = replies[0]["serv_id"]
    assert ready["status"] == "READY", ready
    assert ready["nsr"]["id"] == service_id and len(ready["vnfrs"]) == 3
    assert (ready["sla_id"], ready["policy_id"]) == ("sla-7", "pol-3")
    assert {v["status"] for v in ready["vnfrs"]} == {"normal operation"}

    iperf_uuid = yaml.safe_load((DEMO / "iperf-vnfd.yml").read_text())["uuid"]
    corr = gk.send(SCALE, {"service_instance_uuid": service_id, "scaling_type": "addvnf", "vnfd_uuid": iperf_uuid})
    scaled = gk.final(corr)
    assert gk.replies[corr][0]["status"] == "SCALING" and scaled["status"] == "READY", scaled
    assert scaled["workflow"] == "addvnf" and len(scaled["vnfrs"]) == 4

    corr = gk.send(TERMINATE, {"service_instance_uuid": service_id})
    done = gk.final(corr)
    assert gk.replies[corr][0]["status"] == "TERMINATING"
    assert done["status"] == "READY" and done["workflow"] == "termination" and done["nsr"]["status"] == "terminated"
    assert done["duration"] > 0

    again = gk.final(gk.send(TERMINATE, {"service_instance_uuid": service_id}))
    assert again == {**again, "status": "ERROR", "error": "nsr already terminated"}


@pytest.mark.parametrize("body, error", [
    (demo_request(NSD=None), "No NSD key in message"),
    (demo_request(VNFD0=None, VNFD1=None, VNFD2=None), "No VNFD key in message"),
    (demo_request(user_data=None), "No user_data in message"),
])
def test_sonata_error_cases(gk, body, error):
    reply = gk.final(gk.send(CREATE, body))
    assert reply["status"] == "ERROR" and reply["error"] == error


def test_no_correlation_id_and_unknown_instance(gk):
    before = len(gk.uncorrelated)
    gk.send(CREATE, demo_request(), correlation_id=None)
    import time
    deadline = time.monotonic() + 20
    while len(gk.uncorrelated) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gk.uncorrelated[-1]["error"] == "Please provide a correlation id."
    reply = gk.final(gk.send(TERMINATE, {"service_instance_uuid": "no-such-service"}))
    assert reply["status"] == "ERROR" and "no service instance 'no-such-service'" in reply["error"]


def test_redelivered_request_is_one_operation(gk, rt):
    body = demo_request()
    corr = gk.send(CREATE, body)
    first = gk.final(corr)
    gk.send(CREATE, body, correlation_id=corr)  # the same request again (a redelivery)
    replies = gk.wait(corr, count=len(gk.replies[corr]) + 1)
    assert replies[-1]["status"] == "READY" and replies[-1]["nsr"]["id"] == first["nsr"]["id"]
    assert rt.store.operations.count({"id": corr}) == 1
    assert rt.store.services.count({"id": first["nsr"]["id"]}) == 1
    gk.final(gk.send(TERMINATE, {"service_instance_uuid": first["nsr"]["id"]}))


def test_malformed_flood_then_a_valid_request(gk):
    rng = random.Random(7)
    bad_bodies = [lambda: os.urandom(rng.randint(1, 200)),
                  lambda: b"NSD: [unclosed",
                  lambda: yaml.safe_dump({"NSD": 5, "VNFD0": "x", "user_data": []}).encode(),
                  lambda: yaml.safe_dump(["not", "a", "mapping"]).encode(),
                  lambda: yaml.safe_dump({"NSD": {"name": "x"}, "VNFD0": {"name": "y"}, "user_data": {}}).encode(),
                  lambda: b"a: " + b"[" * 500 + b"]" * 500]
    corrs = [gk.send(CREATE if i % 2 else TERMINATE, None, raw=rng.choice(bad_bodies)()) for i in range(1000)]
    answered = gk.final(corrs[-1], timeout=120)
    assert answered["status"] == "ERROR"
    corr = gk.send(CREATE, demo_request())
    ready = gk.final(corr, timeout=120)
    assert ready["status"] == "READY", ready
    gk.final(gk.send(TERMINATE, {"service_instance_uuid": ready["nsr"]["id"]}))
    errors = [gk.replies[c][-1] for c in corrs[:200] if gk.replies.get(c)]
    assert errors and all(e["status"] == "ERROR" and e["error"] for e in errors)


def test_broker_restart_in_the_middle_of_twenty_requests(gk, rt):
    corrs = [gk.send(CREATE, demo_request()) for _ in range(10)]
    stop_broker_app()  # while the first ten are in flight
    start_broker_app()
    corrs += [gk.send(CREATE, demo_request()) for _ in range(10)]
    finals = [gk.final(c, timeout=240) for c in corrs]
    assert [f["status"] for f in finals] == ["READY"] * 20, [f.get("error") for f in finals if f.get("error")]
    service_ids = [f["nsr"]["id"] for f in finals]
    assert len(set(service_ids)) == 20  # none duplicated, none lost
    for corr in corrs:
        assert rt.store.operations.count({"id": corr}) == 1
    for sid in service_ids:
        gk.send(TERMINATE, {"service_instance_uuid": sid})
