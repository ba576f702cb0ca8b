"""SONATA request/reply over a real broker."""
from __future__ import annotations

import concurrent.futures
import time

import pytest

from mano.errors import MessagingError
from mano.messaging.rpc import NO_RESPONSE, RpcClient, RpcTimeoutError, is_final, serve

pytestmark = pytest.mark.integration


def test_call_round_trip_with_correlation_id(make_bus, collector) -> None:
    callee, caller = make_bus(app_id="son-plugin.SLM"), make_bus(app_id="son-plugin.GK")
    serve(callee, "mano.function.start", lambda req: {"status": "COMPLETED",
                                                      "vnf_id": req.body["vnf_id"]})
    wire = collector()
    caller.subscribe("mano.function.start", wire)  # what a third party sees on the topic
    with RpcClient(caller) as rpc:
        reply = rpc.call("mano.function.start", {"vnf_id": "v1"}, timeout=30,
                         correlation_id="corr-42")
    assert reply.body == {"status": "COMPLETED", "vnf_id": "v1"}
    assert reply.correlation_id == "corr-42" and reply.reply_to is None
    assert reply.header_type == "reply" and reply.app_id == "son-plugin.SLM"
    request, answer = wire.wait_for(2)
    assert request.reply_to == "mano.function.start" and request.correlation_id == "corr-42"
    assert request.header_type == "request"
    assert answer.correlation_id == "corr-42" and answer.reply_to is None


def test_intermediate_and_final_replies(make_bus) -> None:
    callee, caller = make_bus(), make_bus()

    def instantiate(request):
        yield {"status": "INSTANTIATING", "error": None}
        time.sleep(0.05)
        yield {"status": "READY", "error": None, "nsr": {"id": "n1"}}
        yield {"status": "LATE", "error": None}  # after the final one: not waited for

    serve(callee, "service.instances.create", instantiate)
    rpc = RpcClient(caller)
    stream = rpc.call_many("service.instances.create", {"NSD": {}}, timeout=30)
    statuses = [m.body["status"] for m in stream]
    assert statuses == ["INSTANTIATING", "READY"]
    assert {m.correlation_id for m in stream.replies} == {stream.correlation_id}
    assert is_final(stream.replies[-1]) and not is_final(stream.replies[0])


def test_timeout_is_a_specific_error(make_bus) -> None:
    caller = make_bus()
    rpc = RpcClient(caller)
    started = time.monotonic()
    with pytest.raises(RpcTimeoutError) as info:
        rpc.call("nobody.listens", {"x": 1}, timeout=0.3)
    assert 0.29 <= time.monotonic() - started < 10
    assert isinstance(info.value, MessagingError) and isinstance(info.value, TimeoutError)
    assert info.value.retryable and info.value.topic == "nobody.listens"


def test_timeout_keeps_non_final_replies(make_bus) -> None:
    callee, caller = make_bus(), make_bus()
    serve(callee, "slow.create", lambda req: {"status": "INSTANTIATING"})
    stream = RpcClient(caller).call_many("slow.create", {}, timeout=1.5)
    assert next(stream).body["status"] == "INSTANTIATING"
    with pytest.raises(RpcTimeoutError) as info:
        next(stream)
    assert [m.body["status"] for m in info.value.replies] == ["INSTANTIATING"]


def test_caller_ignores_requests_and_concurrent_calls_are_routed(make_bus) -> None:
    """One bus is caller and callee on the same topic: its own request (which carries
    reply_to) is never taken for a reply, and parallel calls get their own answers."""
    bus = make_bus()
    serve(bus, "echo.topic", lambda req: {"echo": req.body["n"]}, concurrency=8)
    rpc = RpcClient(bus)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda n: rpc.call("echo.topic", {"n": n}, timeout=30),
                                range(40)))
    assert [r.body for r in replies] == [{"echo": n} for n in range(40)]


def test_no_response(make_bus, collector, wait_until) -> None:
    callee, caller = make_bus(), make_bus()
    handled = []
    serve(callee, "quiet.topic", lambda req: handled.append(req) or {"status": "READY"})
    replies = collector()
    caller.subscribe("quiet.topic", replies, kind="replies")
    caller.publish("quiet.topic", {}, correlation_id="c-1", reply_to=NO_RESPONSE)
    assert wait_until(lambda: len(handled) == 1, 30)
    time.sleep(0.2)
    assert replies.messages == []
