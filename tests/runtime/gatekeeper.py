"""A test gatekeeper written only against SONATA's wire contract (SONATA.md §2), with plain pika.

It publishes on topic T with ``reply_to=T`` and a fresh correlation id, and collects the
messages on T that carry that correlation id and an empty ``reply_to`` (the replies).
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections import defaultdict
from typing import Any, Iterator

import pika
import yaml

TOPICS = ("service.instances.create", "service.instance.terminate", "service.instance.scale",
          "service.instance.migrate", "service.instance.reconfigure")
PLACE = "mano.service.place"  # SONATA's placement topic, which the gateway serves too


class Gatekeeper:
    def __init__(self, url: str, exchange: str, *, durable: bool = False, topics: tuple[str, ...] = TOPICS):
        self.url, self.exchange, self.durable, self.topics = url, exchange, durable, topics
        self.replies: dict[str, list[dict]] = defaultdict(list)
        self.uncorrelated: list[dict] = []
        self._lock = threading.Condition()
        self._queue = f"gk.{exchange}.{uuid.uuid4().hex[:8]}"
        self._stop = False
        self._publisher = None
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._ready = threading.Event()
        self._thread.start()
        assert self._ready.wait(20), "gatekeeper could not bind its queue"

    def _channel(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        ch.exchange_declare(self.exchange, exchange_type="topic", durable=self.durable)
        return conn, ch

    def _consume(self):
        while not self._stop:
            try:
                conn, ch = self._channel()
                ch.queue_declare(self._queue, durable=True)
                for topic in self.topics:
                    ch.queue_bind(self._queue, self.exchange, routing_key=topic)
                self._ready.set()
                for method, props, body in ch.consume(self._queue, inactivity_timeout=0.2):
                    if self._stop:
                        break
                    if method is None:
                        continue
                    ch.basic_ack(method.delivery_tag)
                    if props.reply_to:
                        continue  # a request (ours or another's), not a reply
                    data = yaml.safe_load(body) if body else None
                    with self._lock:
                        if props.correlation_id:
                            self.replies[props.correlation_id].append(data)
                        else:
                            self.uncorrelated.append(data)
                        self._lock.notify_all()
                conn.close()
            except pika.exceptions.AMQPError:
                time.sleep(0.5)  # broker restarting: reconnect

    def send(self, topic: str, body, *, correlation_id: str | None = "new", raw: bytes | None = None) -> str | None:
        corr = str(uuid.uuid4()) if correlation_id == "new" else correlation_id
        payload = raw if raw is not None else yaml.safe_dump(body).encode()
        for attempt in range(40):
            try:
                if self._publisher is None or self._publisher[0].is_closed:
                    self._publisher = self._channel()
                self._publisher[1].basic_publish(self.exchange, topic, payload, pika.BasicProperties(
                    app_id="son-gatekeeper", content_type="application/json", correlation_id=corr, reply_to=topic,
                    headers={"key": "default", "type": "request"}, delivery_mode=2))
                return corr
            except pika.exceptions.AMQPError:
                self._publisher = None
                time.sleep(0.5)
        raise RuntimeError("could not publish")

    def wait(self, corr: str, count: int = 1, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.replies[corr]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{corr}: got {self.replies[corr]} after {timeout} s, wanted {count} replies")
                self._lock.wait(left)
            return list(self.replies[corr])

    def final(self, corr: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            replies = self.wait(corr, 1, max(0.1, deadline - time.monotonic()))
            finals = [r for r in replies if r.get("status") in ("READY", "ERROR")]
            if finals:
                return finals[0]
            self.wait(corr, len(replies) + 1, max(0.1, deadline - time.monotonic()))

    def close(self):
        self._stop = True
        self._thread.join(5)
        try:
            conn, ch = self._channel()
            ch.queue_delete(self._queue)
            conn.close()
        except pika.exceptions.AMQPError:
            pass


def remove_gateway_exchange(url: str, exchange: str) -> None:
    """Delete a test gateway's named queues (northbound and placement) and its exchange."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    for topic in (*TOPICS, PLACE):
        ch.queue_delete(f"mano.gateway.{exchange}.{topic}")
    ch.exchange_delete(exchange)
    conn.close()


@contextlib.contextmanager
def own_gateway(settings: Any, prefix: str) -> Iterator[Any]:
    """A gateway actor on an exchange of its own (``<prefix>-<hex>``, durable): the settings it
    runs with. On exit the gateway is killed and its queues and exchange deleted."""
    import ray

    from mano.gateway.actor import start_gateway
    from mano.messaging.testing import ensure_broker
    ensure_broker(settings.broker_url)
    settings = dataclasses.replace(settings, exchange=f"{prefix}-{uuid.uuid4().hex[:6]}", exchange_durable=True)
    gateway = start_gateway(settings)
    try:
        yield settings
    finally:
        ray.kill(gateway, no_restart=True)
        remove_gateway_exchange(settings.broker_url, settings.exchange)
