"""Answers are checked against the kind's model and against the request they answer."""
from __future__ import annotations

import pytest
from sm_helpers import REQUIRED, SCHEDULE, placement_payload, pops_payload, task_payload

from mano.records import SmType
from mano.lifecycle.sm_port import SmRequestError
from mano.sm.validation import InvalidAnswer, parse_request, validate_answer

ATHENS, AVEIRO, GHENT = (p["id"] for p in pops_payload())


def check(sm_type: SmType, kind: str, payload: dict, answer):
    return validate_answer(sm_type, kind, parse_request(sm_type, kind, payload), answer)


def ssm(kind, payload, answer):
    return check(SmType.SSM, kind, payload, answer)


# --- requests ----------------------------------------------------------------------------------
def test_unknown_kind_and_bad_payload_are_caller_errors():
    with pytest.raises(SmRequestError, match="not an SSM kind"):
        parse_request(SmType.SSM, "start", {})
    with pytest.raises(SmRequestError, match="not an FSM kind"):
        parse_request(SmType.FSM, "placement", {})
    with pytest.raises(SmRequestError, match="schedule"):
        parse_request(SmType.SSM, "task", {"schedule": []})
    with pytest.raises(SmRequestError, match="functions"):
        parse_request(SmType.SSM, "placement", {"pops": pops_payload()})


# --- task --------------------------------------------------------------------------------------
def test_task_accepts_permutations_and_subsets_keeping_required():
    reordered = ["validate", "place", "create_networks", "deploy_vnfs", "configure_vnfs", "start_vnfs",
                 "store_records"]
    assert ssm("task", task_payload(), {"status": "COMPLETED", "schedule": reordered}) == {"schedule": reordered}
    assert ssm("task", task_payload(), REQUIRED) == {"schedule": REQUIRED}  # a bare list, only required steps


@pytest.mark.parametrize("answer, reason", [
    (["validate", "place", "deploy_vnfs"], "drops required steps 'store_records'"),
    (SCHEDULE + ["rm_rf"], "unknown steps 'rm_rf'"),
    (SCHEDULE + ["place"], "repeats 'place'"),
    ({"schedule": []}, "schedule"),
    ({"steps": SCHEDULE}, "schedule"),
    (42, "answer: Input should be a valid dictionary"),
])
def test_task_refuses(answer, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        ssm("task", task_payload(), answer)


# --- placement ---------------------------------------------------------------------------------
def test_placement_by_vnf_id_covers_every_instance():
    payload = {"functions": [{"vnf_id": "a", "instance_id": "a-1"}, {"vnf_id": "a", "instance_id": "a-2"},
                             {"vnf_id": "b", "instance_id": "b-1"}], "pops": pops_payload()}
    assert ssm("placement", payload, {"a": ATHENS, "b-1": GHENT}) == {"a-1": ATHENS, "a-2": ATHENS, "b-1": GHENT}


def test_placement_accepts_sonata_shape():
    answer = {"mapping": {"a": {"vim": AVEIRO}}, "error": None}
    assert ssm("placement", placement_payload(["a"]), answer) == {"a-1": AVEIRO}


@pytest.mark.parametrize("answer, extra, reason", [
    ({"a": "pop-that-does-not-exist"}, {}, "unknown PoP 'pop-that-does-not-exist'"),
    ({"a": ATHENS}, {}, r"b \(b-1\) is not placed"),
    ({"a": ATHENS, "b": ATHENS, "zz": ATHENS}, {}, "unknown functions 'zz'"),
    ({"a": ATHENS, "b": GHENT}, {"pinned": {"b-1": AVEIRO}}, "pinned to"),
    ({"a": ATHENS, "b": GHENT}, {"blacklist": ["Ghent"]}, "blacklisted PoP"),
    ({"a": 3, "b": None}, {}, "mapping"),
])
def test_placement_refuses(answer, extra, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        ssm("placement", placement_payload(["a", "b"], **extra), answer)


# --- configure, monitor, state -------------------------------------------------------------------
def test_configure():
    payload = {"functions": [{"vnf_id": "a", "instance_id": "a-1"}]}
    assert ssm("configure", payload, {"a": {"x": 1}, "a-1": {"y": 2}}) == {"a": {"x": 1}, "a-1": {"y": 2}}
    assert ssm("configure", payload, {"vnf": [{"id": "a", "x": 1}]}) == {"a": {"x": 1}}  # SONATA's shape
    with pytest.raises(InvalidAnswer, match="unknown functions 'b'"):
        ssm("configure", payload, {"b": {"x": 1}})
    with pytest.raises(InvalidAnswer):
        ssm("configure", payload, {"a": "not a mapping"})


def test_monitor():
    payload = {"alert": {"name": "cpu", "value": 90.0}}
    assert ssm("monitor", payload, None) is None
    assert ssm("monitor", payload, {"workflow": "scale_out", "params": {"vnf_id": "a"}}) == {
        "workflow": "scale_out", "params": {"vnf_id": "a"}}
    assert ssm("monitor", payload, {"workflow": "termination"})["workflow"] == "terminate"  # SONATA's name
    with pytest.raises(InvalidAnswer, match="workflow"):
        ssm("monitor", payload, {"workflow": "self_destruct"})


def test_state():
    assert ssm("state", {"action": "extract"}, {"status": "completed", "content": {"k": 1}}) == {
        "status": "COMPLETED", "content": {"k": 1}}
    with pytest.raises(InvalidAnswer, match="status"):
        ssm("state", {}, {"content": {}})


# --- FSM ---------------------------------------------------------------------------------------
FSM_PAYLOAD = {"vnf_id": "vnf_firewall", "instance_id": "i-1",
               "vnfd": {"virtual_deployment_units": [{"id": "vdu01"}]}}


@pytest.mark.parametrize("kind", ["start", "stop", "configure", "scale", "state"])
def test_fsm_answers(kind):
    answer = {"status": "completed", "envs": [{"cdu_id": "vdu01", "envs": {"A": "1", "B": 2}}], "persist": {"x": 1}}
    result = check(SmType.FSM, kind, FSM_PAYLOAD, answer)
    assert result["status"] == "COMPLETED" and result["envs"][0]["envs"] == {"A": "1", "B": 2}
    assert result["persist"] == {"x": 1}


@pytest.mark.parametrize("answer, reason", [
    ({"status": "FAILED", "error": "boom"}, "status"),
    ({"envs": []}, "status"),
    ({"status": "COMPLETED", "envs": [{"cdu_id": "vdu99", "envs": {}}]}, "unknown deployment units 'vdu99'"),
    ({"status": "COMPLETED", "envs": [{"cdu_id": "vdu01", "envs": {"A": {"nested": 1}}}]}, "envs"),
    (None, "answer: Input should be a valid dictionary"),
])
def test_fsm_refuses(answer, reason):
    with pytest.raises(InvalidAnswer, match=reason):
        check(SmType.FSM, "start", FSM_PAYLOAD, answer)
