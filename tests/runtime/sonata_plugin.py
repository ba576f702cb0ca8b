"""A plugin that behaves on the bus as one built on SONATA's plugin base class (son-mano-base
``ManoBasePlugin``), with plain pika: JSON bodies read with ``json.loads``, registration by
``call_async`` on ``platform.management.plugin.register``, READY heartbeats until it is sent
``lifecycle.start``, then RUNNING."""
from __future__ import annotations

import json
import threading
import time
import uuid

import pika

PM = "platform.management.plugin"


class SonataPlugin:
    """What SONATA's plugin base does on the bus, with plain pika. Every message it reads is
    parsed with ``json.loads`` (as SONATA's did): a YAML body fails the test."""

    def __init__(self, url: str, exchange: str, name: str):
        self.url, self.exchange, self.name = url, exchange, name
        self.uuid: str | None = None
        self.state: str | None = None  # READY once registered; set by the lifecycle commands
        self.beating = False
        self.messages: list[tuple[str, str | None, dict]] = []  # routing key, correlation id, body
        self._cond = threading.Condition()
        self._queue = f"sonata-plugin.{uuid.uuid4().hex[:8]}"
        self._stop = False
        conn, ch = self._channel()
        ch.queue_declare(self._queue, auto_delete=False)
        for key in (f"{PM}.register", f"{PM}.status", f"{PM}.*.lifecycle.*"):
            ch.queue_bind(self._queue, exchange, routing_key=key)
        conn.close()
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()
        self._pub = self._channel()

    def _channel(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        ch.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        return conn, ch

    def _consume(self):
        conn, ch = self._channel()
        for method, props, body in ch.consume(self._queue, inactivity_timeout=0.1, auto_ack=True):
            if self._stop:
                break
            if method is None or props.reply_to:  # requests (ours included) are not for us
                continue
            with self._cond:
                self.messages.append((method.routing_key, props.correlation_id, json.loads(body.decode())))
                if method.routing_key == f"{PM}.{self.uuid}.lifecycle.start":
                    self.state = "RUNNING"  # on_lifecycle_start
                elif method.routing_key == f"{PM}.{self.uuid}.lifecycle.pause":
                    self.state = "PAUSED"  # on_lifecycle_pause
                self._cond.notify_all()
        conn.close()

    def _heartbeats(self):  # _auto_heartbeat: its state, every 0.5 s, once it has a uuid
        conn, ch = self._channel()
        while self.beating:
            body = json.dumps({"uuid": self.uuid, "state": str(self.state)}).encode()
            ch.basic_publish(self.exchange, f"{PM}.{self.uuid}.heartbeat", body, pika.BasicProperties(
                app_id=self.name, content_type="application/json", headers={"key": "default", "type": "request"}))
            time.sleep(0.5)
        conn.close()

    def publish(self, topic: str, body: dict, *, correlation_id: str | None = None, reply_to: str | None = None):
        self._pub[1].basic_publish(self.exchange, topic, json.dumps(body).encode(), pika.BasicProperties(
            app_id=self.name, content_type="application/json", correlation_id=correlation_id, reply_to=reply_to,
            headers={"key": "default", "type": "request"}))

    def mark(self) -> int:
        """Where the messages received so far end: ``wait_for(..., since=mark)`` ignores them."""
        with self._cond:
            return len(self.messages)

    def wait_for(self, match, timeout: float = 30.0, since: int = 0) -> tuple[str, str | None, dict]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self.messages[since:] if match(*m)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f"{self.name}: nothing matched in {timeout} s; got {self.messages}"
                self._cond.wait(left)

    def register(self) -> dict:
        corr = str(uuid.uuid4())
        self.publish(f"{PM}.register", {"name": self.name, "version": "0.9", "description": "a SONATA plugin"},
                     correlation_id=corr, reply_to=f"{PM}.register")
        _, _, reply = self.wait_for(lambda key, c, body: key == f"{PM}.register" and c == corr)
        self.uuid = reply.get("uuid")
        return reply

    def start_heartbeats(self) -> None:
        self.state, self.beating = "READY", True  # _on_register_response
        self._beat = threading.Thread(target=self._heartbeats, daemon=True)
        self._beat.start()

    def stop_heartbeats(self) -> None:
        self.beating = False
        self._beat.join(5)

    def heartbeat(self, state: str) -> None:
        self.publish(f"{PM}.{self.uuid}.heartbeat", {"uuid": self.uuid, "state": state})

    def status_where(self, check, timeout: float = 30.0, since: int = 0) -> dict:
        return self.wait_for(lambda key, c, body: key == f"{PM}.status" and check(body["plugin_dict"]), timeout,
                             since)[2]

    def close(self):
        self.beating = False
        self._stop = True
        self._thread.join(5)
        conn, ch = self._channel()
        ch.queue_delete(self._queue)
        conn.close()
        self._pub[0].close()
