"""SONATA's placement topic against a real RabbitMQ and a real runtime: a client that knows only
SONATA's wire contract asks ``mano.service.place`` as SONATA's SLM does (``reply_to`` = the topic,
a fresh correlation id, a YAML body) and reads the reply on the same topic."""
from __future__ import annotations


import pytest

from gatekeeper import PLACE, Gatekeeper, own_gateway
from sonata_place_requests import case, request_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def slm(rt):
    """A SONATA SLM's side of the topic, on a gateway of its own exchange."""
    with own_gateway(rt.settings, "son-kernel-place") as settings:
        asker = Gatekeeper(settings.broker_url, settings.exchange, durable=True, topics=(PLACE,))
        yield asker
        asker.close()


def placed(slm, body) -> dict:
    corr = slm.send(PLACE, body)
    (reply,) = slm.wait(corr, 1, timeout=60)
    return reply


@pytest.mark.parametrize("number", [1, 12], ids=["load-balanced", "blacklist"])
def test_a_sonata_placement_request_is_answered_with_sonatas_expected_pops(slm, number):
    body, expected = request_of(case(number))
    reply = placed(slm, body)
    assert reply["error"] is None, reply
    assert reply["mapping"]["du"] == expected
    assert set(reply["mapping"]["vl"]) == {vl["id"] for vl in body["nsd"]["virtual_links"]}
    assert reply["solver"] in ("exact", "fast", "exhaustive") and "fallback" not in reply


def test_a_broken_message_gets_an_error_and_the_next_request_is_still_answered(slm):
    corr = slm.send(PLACE, None, raw=b"serv_id: [unclosed\nnsd: {")
    (broken,) = slm.wait(corr, 1, timeout=60)
    assert broken["mapping"] == {} and broken["error"].startswith("malformed message:") and "not YAML" in \
        broken["error"]
    corr = slm.send(PLACE, ["not", "a", "dict"])
    (listed,) = slm.wait(corr, 1, timeout=60)
    assert listed["mapping"] == {} and "not a mapping" in listed["error"]
    body, _ = request_of(case(12))
    del body["serv_id"]
    assert placed(slm, body) == {"error": "No serv_id in message", "mapping": {}}

    body, expected = request_of(case(12))
    reply = placed(slm, body)
    assert reply["error"] is None and reply["mapping"]["du"] == expected


def test_an_infeasible_request_says_why(slm):
    body, _ = request_of(case(12))
    body["customer_policies"]["blacklist"] = ["Athens", "Aveiro", "Ghent"]
    reply = placed(slm, body)
    assert reply["mapping"] == {} and reply["error"].startswith("Result of placement: infeasible, ")
    assert "blacklisted" in reply["error"]


def test_a_question_reserves_nothing_on_mano_s_own_pops(slm, rt):
    """Asked twice about the runtime's own PoP with room for one answer only, mano answers both:
    the first answer reserved nothing that the second would have to count."""
    body, _ = request_of(case(1))  # one VNF of 1 core and 1 GB
    (pop,) = [p for p in rt.call("infrastructure-adaptor", "list_pops", "emulated") if p.vim_uuid == "pop-0"]
    body["topology"]["vims"]["vim_list"] = [{
        "vim_uuid": pop.vim_uuid, "vim_name": pop.name, "vim_city": pop.city, "vim_endpoint": "10.0.0.1",
        "type": "vm", "core_total": 1, "core_used": 0, "memory_total": 1024, "memory_used": 0}]
    for _ in range(2):
        reply = placed(slm, body)
        assert reply["error"] is None, reply
        assert list(reply["mapping"]["du"].values()) == ["pop-0"]
