"""Bus integration tests against a real RabbitMQ (one private exchange per test)."""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pika
import pytest

from mano.errors import MessagingError
from mano.messaging.bus import Bus, BusState
from mano.messaging.envelope import Codec, MalformedReason

pytestmark = pytest.mark.integration


def _raw_channel(broker_url: str) -> tuple[Any, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    return connection, connection.channel()


def test_publish_subscribe_with_sonata_properties(make_bus, collector) -> None:
    bus = make_bus(app_id="son-plugin.Test")
    got = collector()
    bus.subscribe("service.instances.create", got)
    done = bus.publish("service.instances.create", {"NSD": {"name": "demo"}},
                       correlation_id="corr-1", reply_to="service.instances.create")
    assert done.result(30) is None  # confirmed by the broker
    [msg] = got.wait_for(1)
    assert msg.body == {"NSD": {"name": "demo"}}
    assert msg.topic == "service.instances.create"
    assert msg.app_id == "son-plugin.Test"
    assert msg.content_type == "application/json"
    assert msg.correlation_id == "corr-1" and msg.reply_to == "service.instances.create"
    assert msg.headers["key"] == "default" and msg.header_type == "request"
    assert msg.origin == bus.instance_id and not msg.redelivered
    assert not any(name.startswith("bus-conn") for name in got.threads)  # never on the loop


def test_wire_format_is_sonatas(make_bus, broker_url, exchange) -> None:
    """A plain pika reader (like SONATA's) sees "" for None, YAML and application/json."""
    bus = make_bus()
    connection, channel = _raw_channel(broker_url)
    try:
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, routing_key="mano.function.deploy")
        bus.publish("mano.function.deploy", {"vnfd": {"name": "x"}}, headers_type="reply").result(30)
        method, props, body = None, None, None
        deadline = time.monotonic() + 30
        while method is None and time.monotonic() < deadline:
            method, props, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None
        assert props.content_type == "application/json"
        assert props.correlation_id == "" and props.reply_to == ""
        assert props.app_id == "mano"
        assert props.headers["key"] == "default" and props.headers["type"] == "reply"
        assert body == b"vnfd:\n  name: x\n"
    finally:
        connection.close()


def test_hundred_messages_in_order(make_bus, collector) -> None:
    bus = make_bus()
    got = collector()
    bus.subscribe("order.test", got)
    for i in range(100):
        bus.publish("order.test", {"i": i})
    got.wait_for(100)
    assert [b["i"] for b in got.bodies] == list(range(100))


def test_two_subscriptions_on_one_topic_both_get_all(make_bus, collector) -> None:
    publisher, subscriber = make_bus(), make_bus()
    first, second = collector(), collector()
    sub1 = subscriber.subscribe("fanout.test", first)
    sub2 = subscriber.subscribe("fanout.test", second)
    assert sub1.queue != sub2.queue and sub1.queue.startswith("q.fanout.test.")
    for i in range(20):
        publisher.publish("fanout.test", {"i": i})
    first.wait_for(20)
    second.wait_for(20)
    assert [b["i"] for b in first.bodies] == list(range(20))
    assert [b["i"] for b in second.bodies] == list(range(20))


def test_wildcard_topics(make_bus, collector) -> None:
    bus = make_bus()
    star, hash_ = collector(), collector()
    bus.subscribe("platform.management.plugin.*.heartbeat", star)
    bus.subscribe("infrastructure.#", hash_)
    bus.publish("platform.management.plugin.abc.heartbeat", {"uuid": "abc"})
    bus.publish("platform.management.plugin.abc.lifecycle.start", {})
    bus.publish("infrastructure.management.compute.list", {})
    assert bus.flush(30)
    assert [m.topic for m in star.wait_for(1)] == ["platform.management.plugin.abc.heartbeat"]
    assert [m.topic for m in hash_.wait_for(1)] == ["infrastructure.management.compute.list"]


def test_own_messages_are_ignored(make_bus, collector, wait_until) -> None:
    ours = make_bus(app_id="son-plugin.Gateway")
    twin = make_bus(app_id="son-plugin.Gateway")  # same app id, another process
    got = collector()
    ours.subscribe("own.test", got, ignore_own=True)
    ours.publish("own.test", {"from": "self"})
    twin.publish("own.test", {"from": "twin"})
    got.wait_for(1)
    assert ours.flush(30)
    time.sleep(0.2)
    assert got.bodies == [{"from": "twin"}]


def test_kind_filters_requests_and_replies(make_bus, collector) -> None:
    bus = make_bus()
    requests, replies = collector(), collector()
    bus.subscribe("rr.test", requests, kind="requests")
    bus.subscribe("rr.test", replies, kind="replies")
    bus.publish("rr.test", {"n": 1}, correlation_id="c", reply_to="rr.test")
    bus.publish("rr.test", {"n": 2}, correlation_id="c", headers_type="reply")
    requests.wait_for(1)
    replies.wait_for(1)
    time.sleep(0.1)
    assert requests.bodies == [{"n": 1}] and replies.bodies == [{"n": 2}]


def test_callback_exception_does_not_stop_consumption(make_bus, collector, broker_url,
                                                      cleanup_queues) -> None:
    bus = make_bus()
    got = collector()
    queue = f"q.raise.{uuid.uuid4().hex}"
    cleanup_queues.append(queue)

    def callback(message, delivery) -> None:
        if message.body["i"] % 3 == 0:
            raise RuntimeError("boom")
        got(message, delivery)

    bus.subscribe("raise.test", callback, queue=queue)
    for i in range(30):
        bus.publish("raise.test", {"i": i})
    got.wait_for(20)
    assert [b["i"] for b in got.bodies] == [i for i in range(30) if i % 3]
    # the failed messages were rejected without requeue: nothing is left in the queue
    connection, channel = _raw_channel(broker_url)
    try:
        time.sleep(0.2)
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        connection.close()


def test_manual_ack_only_after_the_callback_acks(make_bus, collector, cleanup_queues,
                                                 wait_until) -> None:
    queue = f"gateway.test.{uuid.uuid4().hex}"
    cleanup_queues.append(queue)
    first = make_bus()
    held: list[Any] = []
    seen = threading.Event()

    def hold(message, delivery) -> None:
        held.append((message, delivery))
        seen.set()

    first.subscribe("manual.test", hold, queue=queue, durable=True, manual_ack=True)
    first.publish("manual.test", {"n": "unacked"})
    first.publish("manual.test", {"n": "acked"})
    assert wait_until(lambda: len(held) == 2, 30)
    # ack one of them later, from another thread
    acker = threading.Thread(target=held[1][1].ack)
    acker.start()
    acker.join()
    assert held[1][1].ack() is False  # settles once
    time.sleep(0.2)  # let the ack reach the broker before the connection goes
    first.stop()
    assert first.state is BusState.STOPPED

    second = make_bus()
    got = collector()
    second.subscribe("manual.test", got, queue=queue, durable=True)
    [again] = got.wait_for(1)
    assert again.body == {"n": "unacked"} and again.redelivered
    time.sleep(0.2)
    assert len(got.messages) == 1


def test_thousand_malformed_then_valid(make_bus, collector, broker_url, exchange) -> None:
    bus = make_bus(codec=Codec(max_bytes=10_000))
    got = collector()
    bus.subscribe("dirty.test", got)
    connection, channel = _raw_channel(broker_url)
    bad = [b"\xff\xfe\x00", b"a: [1, 2", b"- just\n- a list", b"[" * 500, b"x" * 20_000]
    try:
        props = pika.BasicProperties(content_type="application/json", app_id="evil")
        for i in range(1000):
            channel.basic_publish(exchange, "dirty.test", bad[i % len(bad)], props)
        channel.basic_publish(exchange, "dirty.test", b"status: fine", props)
    finally:
        connection.close()
    [msg] = got.wait_for(1, timeout=30)
    assert msg.body == {"status": "fine"}


def test_malformed_can_be_delivered_with_its_error(make_bus, collector) -> None:
    bus = make_bus()
    got = collector()
    bus.subscribe("dirty.deliver", got, on_malformed="deliver")
    bus.publish("dirty.deliver", b"- not\n- a mapping", correlation_id="c-9")
    [msg] = got.wait_for(1)
    assert msg.body is None and msg.error.reason is MalformedReason.NOT_MAPPING
    assert "c-9" in str(msg.error)


def test_publish_before_start_is_buffered(make_bus, collector) -> None:
    publisher = make_bus(start=False)
    future = publisher.publish("early.test", {"n": 1})
    subscriber = make_bus()
    got = collector()
    subscriber.subscribe("early.test", got)
    assert not future.done()
    publisher.start()
    future.result(30)
    assert got.wait_for(1)[0].body == {"n": 1}


def test_subscribe_before_start_and_hooks(make_bus, collector) -> None:
    events: list[str] = []
    bus = make_bus(start=False, on_connected=lambda: events.append("up"))
    got = collector()
    bus.subscribe("pre.test", got)
    bus.start()
    bus.publish("pre.test", {"n": 1})
    assert got.wait_for(1)[0].body == {"n": 1}
    assert events == ["up"]


def test_stop_deletes_anonymous_queues_and_refuses_publishing(make_bus, broker_url) -> None:
    bus = make_bus()
    sub = bus.subscribe("gone.test", lambda m, d: None)
    bus.stop()
    bus.stop()  # idempotent
    connection, channel = _raw_channel(broker_url)
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            channel.queue_declare(sub.queue, passive=True)
    finally:
        if connection.is_open:
            connection.close()
    with pytest.raises(MessagingError, match="stopped"):
        bus.publish("gone.test", {})


def test_cancel_subscription(make_bus, collector) -> None:
    bus = make_bus()
    got = collector()
    sub = bus.subscribe("cancel.test", got)
    bus.publish("cancel.test", {"n": 1})
    got.wait_for(1)
    sub.cancel()
    assert not sub.active
    bus.publish("cancel.test", {"n": 2}).result(30)
    time.sleep(0.2)
    assert got.bodies == [{"n": 1}]


def test_queue_clash_is_a_messaging_error(make_bus, cleanup_queues) -> None:
    queue = f"clash.{uuid.uuid4().hex}"
    cleanup_queues.append(queue)
    bus = make_bus()
    bus.subscribe("clash.test", lambda m, d: None, queue=queue, durable=True)
    with pytest.raises(MessagingError, match="cannot subscribe"):
        bus.subscribe("clash.test", lambda m, d: None, queue=queue, durable=False)
    bus.publish("clash.test", {}).result(30)  # the bus itself is unharmed


def test_unreachable_broker_fails_start(settings) -> None:
    bus = Bus(settings, url="amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(MessagingError, match="cannot connect"):
        bus.start(timeout=0.5)
    assert bus.state is BusState.STOPPED
