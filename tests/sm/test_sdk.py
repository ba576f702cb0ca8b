"""The SDK side: loading classes, the request/reply contract both runners share, the examples'
own demos, and the pure parts of the container runner (broker permissions, the AMQP gate)."""
from __future__ import annotations

import re
import subprocess
import sys

import pika.frame
import pika.spec
import pytest
from paths import REPO

from mano.sm.broker import SmBrokerUser, _start_ok_user, sm_user
from mano.sm.runner import SmInstanceName
from ssm import FsmResponse, ServiceSpecificManager, SmContext, TaskRequest
from ssm.runtime import PING, SmLoadError, SmRuntime, load_class

CONTEXT = SmContext(sm_id="t", sm_type="ssm", service_id="s", kinds=("task",))


class Counting(ServiceSpecificManager):
    def on_start(self) -> None:
        self.seen: list[list[str]] = []

    def task(self, request: TaskRequest) -> list[str]:
        self.seen.append(request.schedule)
        return list(reversed(request.schedule))


def test_handle_runs_the_hook_and_wraps_the_answer():
    runtime = SmRuntime(Counting, CONTEXT)
    reply = runtime.handle({"ssm_type": "task", "sm_id": "t", "content": {"schedule": ["a", "b"]}})
    assert reply["result"] == {"schedule": ["b", "a"]} and reply["schedule"] == ["b", "a"]  # SONATA copy on top
    assert reply["status"] == "COMPLETED" and reply["error"] is None and reply["sm_id"] == "t"
    assert runtime.sm.seen == [["a", "b"]]
    assert runtime.handle({"ssm_type": PING})["result"]["class"].endswith(":Counting")


def test_handle_reports_what_went_wrong():
    runtime = SmRuntime(Counting, CONTEXT)
    assert runtime.handle({"ssm_type": "task", "content": {}})["error"].startswith("bad request: schedule")
    assert runtime.handle({"ssm_type": "fly"})["error"] == "bad request: unknown kind 'fly'"
    missing = runtime.handle({"ssm_type": "placement", "content": {"functions": [{"vnf_id": "a"}],
                                                                   "pops": [{"id": "p"}]}})
    assert missing["error"] == "raised HookNotImplementedError: Counting does not implement placement()"


def test_fsm_none_means_completed():
    from ssm import FunctionSpecificManager

    class Quiet(FunctionSpecificManager):
        def stop(self, request):
            return None

    runtime = SmRuntime(Quiet, SmContext(sm_id="v/q", sm_type="fsm", service_id="s", vnf_id="v"))
    assert runtime.handle({"fsm_type": "stop", "content": {"vnf_id": "v"}})["result"] == {"status": "COMPLETED"}
    assert FsmResponse.done().status == "COMPLETED"


def test_type_mismatch_and_bad_paths():
    with pytest.raises(SmLoadError, match="not a FunctionSpecificManager"):
        SmRuntime(Counting, SmContext(sm_id="x", sm_type="fsm", service_id="s"))
    with pytest.raises(SmLoadError, match="not 'package.module:Class'"):
        load_class("python://examples.ssm.task")
    with pytest.raises(SmLoadError, match="not a ServiceSpecificManager"):
        load_class("python://examples.ssm.task:parse_rules")


def test_examples_import_from_another_working_directory(tmp_path):
    # Ray workers run in the driver's working directory; the registry passes the repo root
    code = ("from ssm.runtime import load_class; import sys; "
            f"print(load_class('python://examples.ssm.task:MoveBefore', extra_sys_path=[{str(REPO)!r}]).__name__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "MoveBefore", result.stderr


@pytest.mark.parametrize("module", ["placement", "task", "configure", "fsm", "monitor"])
def test_example_demo_runs(module):
    result = subprocess.run([sys.executable, "-m", f"examples.ssm.{module}"], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip(), result.stderr


def test_instance_names_round_trip():
    name = SmInstanceName("7a1c5e0e-0000-4000-8000-000000000001", "vnf_fw/env", "3")
    assert name.name == "sm:7a1c5e0e-0000-4000-8000-000000000001:vnf_fw/env:v3"
    assert SmInstanceName.parse(name.name) == name
    assert SmInstanceName.parse("service:abc") is None and SmInstanceName.parse("sm:a:b") is None


def test_broker_permissions_are_limited_to_the_own_topic():
    user = sm_user("abcd-v1", "generic.ssm.svc-1", "son-kernel")
    assert isinstance(user, SmBrokerUser) and user.name == "mano-sm-abcd-v1" and len(user.password) >= 24
    perms, topics = user.permissions, user.topic_permissions
    assert re.match(perms["configure"], "mano-sm.mano-sm-abcd-v1.q1")
    assert not re.match(perms["configure"], "son-kernel") and not re.match(perms["configure"], "mano-sm.other.q")
    assert re.match(perms["write"], "son-kernel") and not re.match(perms["write"], "amq.default")
    assert re.match(topics["write"], "generic.ssm.svc-1")
    for key in ("generic.ssm.svc-2", "generic.ssm.svc-1.x", "#", "generic.ssm.*", "generic.ssmXsvc-1"):
        assert not re.match(topics["write"], key) and not re.match(topics["read"], key)


def _start_ok(mechanism: str, response: bytes) -> bytes:
    method = pika.spec.Connection.StartOk(client_properties={"product": "x"}, mechanism=mechanism,
                                          response=response, locale="en_US")
    return pika.frame.Method(0, method).marshal()


def test_gate_reads_the_user_of_the_handshake():
    assert _start_ok_user(_start_ok("PLAIN", b"\x00mano-sm-abcd-v1\x00secret")) == "mano-sm-abcd-v1"
    assert _start_ok_user(_start_ok("PLAIN", b"\x00guest\x00guest")) == "guest"
    assert _start_ok_user(_start_ok("AMQPLAIN", b"whatever")) is None
    assert _start_ok_user(b"\x01\x00\x00\x00\x00\x00\x04garbage\xce") is None
