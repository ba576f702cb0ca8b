"""The gateway's core without a broker: which final replies are owed, and that they survive a
gateway restart. (tests/runtime/test_gateway.py drives the same core over the real RabbitMQ.)

The SLM and the lifecycle are mano's own, in-process, on an in-memory store; ``publish`` is the
core's outbound port, recorded here as the bus would send it.
"""
from __future__ import annotations

import pytest

from mano.descriptors import load_service
from mano.gateway import northbound as nb
from mano.gateway.core import LEGACY_KEY, GatewayCore, Inbound, Settle
from mano.lifecycle.local import FirstFitPlacement, LocalFunctions, LocalVim
from mano.lifecycle.service import ServiceController
from mano.lifecycle.slm import ServiceLifecycleManager
from mano.lifecycle.states import OperationType
from mano.lifecycle.vim_port import Pop
from mano.vim.emulated import EmulatedVim
from test_northbound import create_body


class InProcessSlm:
    """The SLM actor's two admission calls over the lifecycle core, the workflows run on demand."""

    def __init__(self, store):
        self.store, self.core = store, ServiceLifecycleManager(store)
        pops = [Pop(vim_uuid=f"pop-{i}", name=f"pop{i}", core_total=64, memory_total=256) for i in range(3)]
        self.vim = LocalVim({"emulated": EmulatedVim(pops, seed=1)})
        self.functions = LocalFunctions(store, self.vim)

    def instantiate(self, nsd, vnfds, *, operation_id, user_data, params):
        return self.core.instantiate(load_service(nsd, vnfds), operation_id=operation_id, user_data=user_data,
                                     params=params).model_dump(mode="json")

    def request(self, service_id, op_type, params, *, operation_id):
        return self.core.request(service_id, OperationType(op_type), params,
                                 operation_id=operation_id).model_dump(mode="json")

    def run(self, operation_id):
        op = self.store.operations.get(operation_id)
        return ServiceController(op.service_id, self.store, self.functions, self.vim, FirstFitPlacement()).run(op.id)


@pytest.fixture
def store():
    from mano.store.client import Store
    with Store.in_memory() as s:
        yield s


def gateway(store, slm):
    sent: list[tuple[str, dict, str | None]] = []
    return GatewayCore(slm, store, lambda topic, body, corr: sent.append((topic, dict(body), corr))), sent


def create(corr="c-1"):
    body = create_body(mapping=None)
    body["user_data"]["customer"]["policies"] = {}
    return Inbound(topic=nb.CREATE, body=body, correlation_id=corr)


def test_an_admitted_request_owes_its_final_reply_in_the_gateways_own_record(store):
    slm = InProcessSlm(store)
    core, sent = gateway(store, slm)
    assert core.handle(create()) == Settle.ACK
    assert [(topic, body["status"], corr) for topic, body, corr in sent] == [(nb.CREATE, "INSTANTIATING", "c-1")]
    owed = store.gateway_replies.get("c-1")
    assert (owed.topic, owed.extra) == (nb.CREATE, {})
    assert not any(key.startswith("_") for key in store.operations.get("c-1").request)  # the lifecycle's alone
    assert core.send_due_finals() == 0  # not ended yet

    slm.run("c-1")
    assert core.send_due_finals() == 1
    topic, body, corr = sent[-1]
    assert (topic, body["status"], corr) == (nb.CREATE, "READY", "c-1") and body["nsr"]["id"]
    assert store.gateway_replies.find_one("c-1") is None  # crossed off once the broker confirmed it
    assert core.send_due_finals() == 0 and len(sent) == 2


def test_a_restarted_gateway_still_sends_what_its_predecessor_owed(store):
    slm = InProcessSlm(store)
    first, _ = gateway(store, slm)
    first.handle(create("c-2"))
    slm.run("c-2")  # the operation ends while no gateway runs

    restarted, sent = gateway(store, slm)
    assert restarted.send_due_finals() == 1
    assert [(body["status"], corr) for _, body, corr in sent] == [("READY", "c-2")]


def test_a_reply_is_not_crossed_off_when_the_broker_did_not_confirm_it(store):
    slm = InProcessSlm(store)

    def broker_away(topic, body, corr):
        if body.get("status") == "READY":
            raise ConnectionError("broker away")
    core = GatewayCore(slm, store, broker_away)
    core.handle(create("c-3"))
    slm.run("c-3")
    with pytest.raises(ConnectionError):
        core.send_due_finals()
    assert store.gateway_replies.find_one("c-3") is not None  # owed still: sent on a later tick


def test_a_redelivered_request_is_one_operation_and_one_owed_reply(store):
    slm = InProcessSlm(store)
    core, sent = gateway(store, slm)
    core.handle(create("c-4"))
    core.handle(create("c-4"))  # the broker redelivers: the ack was lost
    assert len(store.operations.find({})) == 1 and len(store.gateway_replies.owed()) == 1
    slm.run("c-4")
    assert core.send_due_finals() == 1


def test_replies_an_older_gateway_kept_in_the_operation_are_adopted_and_sent(store):
    slm = InProcessSlm(store)
    core, sent = gateway(store, slm)
    op = slm.core.instantiate(load_service(create().body["NSD"], [create().body[f"VNFD{i}"] for i in range(3)]),
                              operation_id="c-5",
                              params={LEGACY_KEY: {"topic": nb.CREATE, "extra": {}, "final_sent": False}})
    slm.run(op.id)
    assert core.adopt_legacy_replies() == 1 and core.adopt_legacy_replies() == 0
    assert core.send_due_finals() == 1
    assert [(topic, body["status"], corr) for topic, body, corr in sent] == [(nb.CREATE, "READY", "c-5")]


def test_an_operation_held_failed_temp_is_answered_error_as_sonata_knows_no_other(store):
    from mano.vim.emulated import FaultPlan
    slm = InProcessSlm(store)
    slm.vim.driver("emulated").inject_fault(FaultPlan(temporary=True, times=100, message="VIM API unreachable"))
    core, sent = gateway(store, slm)
    core.handle(create("c-held"))
    assert slm.run("c-held").state.value == "FAILED_TEMP"
    assert core.send_due_finals() == 1
    topic, body, corr = sent[-1]
    assert (topic, body["status"], corr) == (nb.CREATE, "ERROR", "c-held")
    assert "failed temporarily" in body["error"] and "VIM API unreachable" in body["error"]
    assert store.gateway_replies.find_one("c-held") is None and core.send_due_finals() == 0
