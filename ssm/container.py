"""The container entry point: serve one SM class over AMQP, as SONATA's SMs did.

Run ``python -m ssm.container [package.module:Class]`` in an SM image. The SMR that starts the
container passes everything else in the environment:

=====================  ===============================================================
``MANO_SM_CLASS``      the class, when not given on the command line
``MANO_SM_CONTEXT``    the :class:`~ssm.models.SmContext` as JSON (sm id, type, service, ...)
``MANO_SM_BROKER_URL`` ``amqp://<sm user>:<password>@<host>:<port>/%2F`` (SONATA: ``broker_host``)
``MANO_SM_EXCHANGE``   the topic exchange (default ``son-kernel``)
``MANO_SM_TOPIC``      ``generic.ssm.<service_id>`` or ``generic.fsm.<function_id>``
``MANO_SM_QUEUE``      prefix of the queue to declare (its broker user may only use that)
=====================  ===============================================================

Protocol (SONATA.md §2.4): requests arrive on the topic with ``reply_to`` set and carry
``ssm_type``/``fsm_type``; the answer goes back **on the same topic** with the request's
correlation id and an empty ``reply_to``. Messages without ``reply_to`` (replies, ours and
others') are ignored, and so are requests addressed to another SM of the same service
(``sm_id``), to another generation of this SM (``sm_version``, during an update) or of a kind
this SM is not registered for. The SM's broker user may only declare
its own queue, bind it and publish with its own topic, and use the exchange passively: see
``mano/sm/broker.py`` for the permissions the SMR grants.

Threads: pika's ``BlockingConnection`` is used by the main thread only; hooks run on one
worker thread (so heartbeats keep flowing while a hook works) and hand their replies back with
``add_callback_threadsafe``. The bodies are YAML (JSON is YAML too), as on SONATA's bus.
"""
from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import signal
import sys
import time
import uuid
from typing import Any

import pika
import pika.exceptions
import yaml

from ssm.models import SmContext
from ssm.runtime import PING, SmLoadError, SmRuntime, describe_exception

LOG = logging.getLogger("ssm.container")

MAX_BODY_BYTES = 1024 * 1024
EXIT_LOAD_ERROR = 2
EXIT_AUTH_ERROR = 3


class ContainerServer:
    """Serves one :class:`~ssm.runtime.SmRuntime` on one topic until stopped."""

    def __init__(self, runtime: SmRuntime, *, url: str, exchange: str, topic: str, queue_prefix: str):
        self.runtime = runtime
        self.url = url
        self.exchange = exchange
        self.topic = topic
        self.queue = f"{queue_prefix}.{uuid.uuid4().hex[:12]}"
        self.app_id = f"son-plugin.{runtime.context.sm_id}"
        self._kinds = set(runtime.context.kinds) | {PING}
        self._worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sm-hook")
        self._connection: Any = None
        self._channel: Any = None

    def serve_forever(self, *, max_auth_failures: int = 5) -> None:
        """Connect, consume, reconnect after a lost connection; return after :meth:`stop`."""
        auth_failures, delay = 0, 0.5
        while True:
            try:
                self._serve_once()
                return
            except (pika.exceptions.ProbableAuthenticationError,
                    pika.exceptions.ProbableAccessDeniedError) as exc:
                auth_failures += 1
                if auth_failures >= max_auth_failures:
                    LOG.error("broker refuses our credentials (%s): giving up", describe_exception(exc))
                    raise SystemExit(EXIT_AUTH_ERROR) from exc
            except pika.exceptions.AMQPError as exc:
                LOG.warning("broker connection lost (%s): reconnecting in %.1f s", describe_exception(exc),
                            delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _serve_once(self) -> None:
        params = pika.URLParameters(self.url)
        params.client_properties = {"connection_name": self.app_id}
        self._connection = pika.BlockingConnection(params)
        try:
            self._channel = channel = self._connection.channel()
            # passive: the SM's user has no right to (re)declare the shared exchange
            channel.exchange_declare(self.exchange, exchange_type="topic", passive=True)
            channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
            channel.queue_bind(self.queue, self.exchange, routing_key=self.topic)
            channel.basic_consume(self.queue, self._on_message, auto_ack=True)
            LOG.info("%s serving %s on %s", self.app_id, sorted(self._kinds), self.topic)
            channel.start_consuming()
        finally:
            if self._connection.is_open:
                try:
                    self._connection.close()
                except pika.exceptions.AMQPError:
                    pass

    def stop(self) -> None:
        """Stop consuming (from a signal handler or any thread)."""
        def halt() -> None:
            if self._channel is not None and self._channel.is_open:
                self._channel.stop_consuming()  # start_consuming returns: serve_forever ends
        if self._connection is not None and self._connection.is_open:
            self._connection.add_callback_threadsafe(halt)

    # --- one message -------------------------------------------------------------------
    def _on_message(self, channel: Any, method: Any, properties: Any, raw: bytes) -> None:
        if not properties.reply_to:
            return  # a reply (ours or another SM's) or a notification
        body = _decode(raw)
        if body is None:
            LOG.warning("ignored an undecodable request on %s", method.routing_key)
            return
        kind = body.get("ssm_type") or body.get("fsm_type")
        context = self.runtime.context
        if (body.get("sm_id") not in (None, context.sm_id)
                or body.get("sm_version") not in (None, context.version) or kind not in self._kinds):
            return  # for another SM of this service, or another generation of this SM (an update)
        correlation_id = properties.correlation_id
        self._worker.submit(self._run, body, correlation_id, properties.reply_to)

    def _run(self, body: dict[str, Any], correlation_id: str | None, reply_to: str) -> None:
        reply = self.runtime.handle(body)
        topic = reply_to if reply_to == self.topic else self.topic  # we may only publish on ours
        payload = yaml.safe_dump(reply, default_flow_style=False).encode()
        properties = pika.BasicProperties(
            app_id=self.app_id, content_type="application/json", correlation_id=correlation_id or "",
            reply_to="", headers={"key": "default", "type": "reply"})
        connection = self._connection

        def publish() -> None:
            if self._channel is not None and self._channel.is_open:
                self._channel.basic_publish(self.exchange, topic, payload, properties)
        try:
            connection.add_callback_threadsafe(publish)
        except Exception:  # noqa: BLE001 - the connection went away; the caller times out
            LOG.warning("reply to %s lost: connection closed", correlation_id)


def _decode(raw: bytes) -> dict[str, Any] | None:
    if len(raw) > MAX_BODY_BYTES:
        return None
    try:
        body = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return body if isinstance(body, dict) else None


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m ssm.container``."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=os.environ.get("MANO_SM_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    env = os.environ
    class_path = argv[0] if argv else env.get("MANO_SM_CLASS", "")
    try:
        context = SmContext.model_validate(json.loads(env["MANO_SM_CONTEXT"]))
        runtime = SmRuntime.load(class_path, context)
    except (KeyError, ValueError, SmLoadError) as exc:
        LOG.error("cannot start the SM %r: %s", class_path, describe_exception(exc))
        return EXIT_LOAD_ERROR
    server = ContainerServer(runtime, url=env.get("MANO_SM_BROKER_URL") or env.get("broker_host", ""),
                             exchange=env.get("MANO_SM_EXCHANGE", "son-kernel"),
                             topic=env["MANO_SM_TOPIC"], queue_prefix=env["MANO_SM_QUEUE"])
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve_forever()
    finally:
        runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
