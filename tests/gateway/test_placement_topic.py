"""SONATA's placement topic without a broker: requests as SONATA's SLM writes them, mano's
PlacementRequest they become, the replies, and a clear error for every bad input."""
from __future__ import annotations

import copy

import pytest

from mano.errors import InfeasiblePlacementError, ManoError
from mano.gateway import placement_topic as pt
from mano.gateway.core import Inbound
from mano.lifecycle.ports import PlacementOutcome
from mano.lifecycle.sonata_placement import place_request
from mano.lifecycle.vim_port import WanLink
from mano.messaging.envelope import decode_body, encode_body
from sonata_place_requests import case, case_names, request_of

ATHENS, AVEIRO, GHENT = (f"1111-22222222-33333333-{n}" for n in ("4444", "5555", "6666"))


def ask(body, place=place_request, correlation_id="corr-1", malformed=None, **options):
    return pt.answer(Inbound(pt.PLACE, body, correlation_id, malformed), place, **options)


def test_a_sonata_request_becomes_a_placement_request():
    body, expected = request_of(case(12))  # load balanced, Aveiro blacklisted by name
    question = pt.parse(body)
    request = question.request
    first, second = (f["id"] for f in body["functions"])
    assert request.service_id == body["serv_id"] and request.question is True
    assert [(u.instance_id, u.vnf_id) for u in request.units] == [(first, "vforward_vnf_1_2"),
                                                                  (second, "vforward_vnf_2_2")]
    # the SLM's "<id>-<function id>" unit names are taken off again, as the VNFD's links name them
    assert [u.id for u in request.units[0].vnfd.virtual_deployment_units] == ["vdu01", "vdu02"]
    assert request.units[0].vnfd.vcpus == 2 and request.units[0].vnfd.memory_gb == 2
    # the IA's MB are mano's GB again: the case file's figures
    athens = next(p for p in request.pops if p.vim_uuid == ATHENS)
    assert (athens.name, athens.city, athens.core_total, athens.memory_total, athens.memory_used) == \
        ("Athens", "Athens", 50, 50, pytest.approx(25.1))
    assert request.blacklist == ("Aveiro",) and request.policy == "load balanced" and request.policy_list == ()
    assert request.weights == {"operator": 1.0, "developer": 0.0}  # the case writes developer: '0.0'
    assert request.ingresses == ({"nap": "10.100.10.100", "location": "foo"},)
    assert request.egresses == ({"nap": "8.8.8.8", "location": "foo"},)
    assert request.pinned == {} and request.links == () and question.deployed == {}
    assert set(expected) == {first, second}


def test_policies_pins_wan_and_deployed_functions_reach_the_request():
    body, _ = request_of(case(10))  # priority: Athens, Ghent, Aveiro
    first, second = (f["id"] for f in body["functions"])
    body["predefined_mapping"]["function"][first] = {"vim_id": GHENT, "vl": {}, "new": True}
    body["topology"]["wims"] = [{"uuid": "wim-1", "qos": [{"node_1": ATHENS, "node_2": GHENT, "bandwidth": 100,
                                                           "latency": 10}]},
                                {"uuid": "wim-2"}]  # a WIM with no links: no qos key
    question = pt.parse(body)
    request = question.request
    assert request.policy == "priority" and request.policy_list == ("Athens", "Ghent", "Aveiro")
    assert request.pinned == {first: GHENT}
    assert request.links == (WanLink(ATHENS, GHENT, 100, 10),)

    body["predefined_mapping"]["function"][first] = {"vim_id": GHENT, "vl": {}, "new": False}
    question = pt.parse(body)
    assert question.deployed == {first: GHENT} and [u.instance_id for u in question.request.units] == [second]
    assert question.request.pinned == {}

    del body["operator_policies"]["policy"]
    assert pt.parse(body, default_policy="fill first").request.policy == "fill first"


@pytest.mark.parametrize("number", [1, 2, 3, 5, 6, 10, 12, 15, 16, 17])
def test_every_sonata_case_is_answered_as_sonata_expects(number):
    body, expected = request_of(case(number))
    reply = ask(body)
    assert reply["error"] is None, reply
    assert reply["mapping"]["du"] == expected
    assert reply["solver"] in ("exact", "fast", "exhaustive")


def test_the_cases_file_has_the_cases_the_tests_name():
    assert len(case_names()) == 10


def test_reply_shape_survives_the_wire():
    body, _ = request_of(case(12))
    first, second = (f["id"] for f in body["functions"])
    body["predefined_mapping"]["function"][first] = {"vim_id": ATHENS, "vl": {}, "new": False}
    outcome = PlacementOutcome({second: GHENT}, "first fit", fallback="placement plugin did not answer: timeout")
    reply = decode_body(encode_body(ask(body, place=lambda request: outcome)))
    assert reply["error"] is None
    assert list(reply["mapping"]["du"].items()) == [(first, ATHENS), (second, GHENT)]  # the request's order
    assert reply["mapping"]["vl"]["link_2"] == [{"vim_id": [ATHENS, GHENT],
                                                 "refs": ["vforward_vnf_1_2:output", "vforward_vnf_2_2:input"]}]
    assert reply["mapping"]["vl"]["link_1"] == [{"vim_id": [ATHENS], "refs": ["input", "vforward_vnf_1_2:input"]}]
    assert set(reply["mapping"]["vl"]) == {"mgmt", "link_1", "link_2", "link_3"}
    assert reply["solver"] == "first fit" and reply["fallback"].startswith("placement plugin did not answer")


def test_functions_all_deployed_already_are_not_placed_again():
    body, _ = request_of(case(12))
    for function in body["functions"]:
        body["predefined_mapping"]["function"][function["id"]] = {"vim_id": AVEIRO, "vl": {}, "new": False}

    def never(request):
        raise AssertionError("nothing to place")
    reply = ask(body, place=never)
    assert reply["error"] is None and set(reply["mapping"]["du"].values()) == {AVEIRO}
    assert reply["solver"] == pt.PREDEFINED and "fallback" not in reply


def _bad(mutate):
    body, _ = request_of(case(12))
    mutate(body)
    return body


def _set(path, value):
    def mutate(body):
        *parents, last = path
        target = body
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return mutate


def _foreign_vnfd(body):
    body["functions"][1]["vnfd"]["name"] = "not-in-the-nsd"


def _pin_elsewhere(body):
    body["predefined_mapping"]["function"][body["functions"][0]["id"]] = {"vim_id": "nowhere", "new": True}


def _twice(body):
    body["functions"][1]["id"] = body["functions"][0]["id"]


def _too_small(body):
    for vim in body["topology"]["vims"]["vim_list"]:
        vim["core_used"] = vim["core_total"]


@pytest.mark.parametrize("body, error", [
    (None, "empty payload: a placement request needs serv_id, nsd, functions and topology"),
    ("just text", "payload is not a dict."),
    (_bad(_set(["serv_id"], KeyError)), "No serv_id in message"),
    (_bad(_set(["nsd"], KeyError)), "No nsd in message"),
    (_bad(_set(["functions"], KeyError)), "No functions in message"),
    (_bad(_set(["functions"], [])), "functions: List should have at least 1 item after validation"),
    (_bad(_set(["functions", 0, "vnfd"], KeyError)), "functions[0].vnfd: required field is missing"),
    (_bad(_set(["nsd"], "an NSD")), "nsd: Input should be a valid dictionary (got 'an NSD')"),
    (_bad(_set(["nsd", "vendor"], KeyError)), "nsd: vendor: required field is missing"),
    (_bad(_set(["nap"], {"ingresses": [{"nap": "10.100.10.0/24"}]})), "nap.ingresses[0].location: required field"),
    (_bad(_set(["operator_policies"], "load balanced")), "Operator policies are not a dictionary"),
    (_bad(_set(["customer_policies"], ["Aveiro"])), "Customer policies are not a dictionary"),
    (_bad(_set(["topology"], KeyError)), "No attached VIMs"),
    (_bad(_set(["topology", "vims", "vim_list"], [])), "No attached VIMs"),
    (_bad(_set(["topology", "vims", "vim_list", 1, "core_total"], -4)),
     "topology.vims.vim_list[1].core_total: Input should be greater than or equal to 0"),
    (_bad(_set(["topology", "wims"], [{"uuid": "w", "qos": [{"node_1": "a"}]}])),
     "topology.wims[0].qos[0].node_2: Field required"),
    (_bad(_set(["operator_policies", "policy"], "cheapest")), "operator_policies.policy: unknown operator policy"),
    (_bad(_set(["operator_policies", "weights"], {"operator": "lots"})),
     "operator_policies.weights.operator is not a number"),
    (_bad(_set(["customer_policies", "blacklist"], {"city": "Aveiro"})), "customer_policies.blacklist is not a list"),
    (_bad(_foreign_vnfd), "is not one of the NSD's network_functions"),
    (_bad(_pin_elsewhere), "which the topology does not list"),
    (_bad(_twice), "is given more than once"),
    (_bad(_too_small), "Result of placement: infeasible, "),
])
def test_each_bad_request_gets_a_clear_error_and_an_empty_mapping(body, error):
    reply = ask(body)
    assert reply["mapping"] == {} and error in reply["error"], reply
    assert set(reply) == {"error", "mapping"}


def test_a_broken_message_or_no_correlation_id_gets_an_error_without_placing():
    def never(request):
        raise AssertionError("nothing to place")
    broken = ask(None, place=never, malformed="message on 'mano.service.place': not YAML: mapping values")
    assert broken == {"error": "malformed message: message on 'mano.service.place': not YAML: mapping values",
                      "mapping": {}}
    body, _ = request_of(case(1))
    assert ask(body, place=never, correlation_id=None) == {"error": "Please provide a correlation id.",
                                                           "mapping": {}}


def test_placement_failures_come_back_as_errors():
    body, _ = request_of(case(1))

    def away(request):
        raise ManoError("placement-executive.place: actor unavailable (RayActorError)")

    def infeasible(request):
        raise InfeasiblePlacementError("vnf_1 needs 2 cores; no PoP has them")
    assert ask(copy.deepcopy(body), place=away)["error"] == \
        "placement failed: placement-executive.place: actor unavailable (RayActorError)"
    assert ask(body, place=infeasible)["error"] == \
        "Result of placement: infeasible, vnf_1 needs 2 cores; no PoP has them"
