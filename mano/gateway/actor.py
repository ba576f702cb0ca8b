"""The gateway actor, an entry point: RabbitMQ (SONATA's son-kernel exchange) ↔ the actor system.

It owns one :class:`~mano.messaging.bus.Bus` (one pika connection, on one thread) and the
plain :class:`~mano.gateway.core.GatewayCore`. Northbound topics are consumed from durable
named queues with manual acks, so a request published while the gateway is down waits in
RabbitMQ, and one whose admission failed for a passing reason is requeued. A watcher thread
sends the final READY/ERROR replies as operations end. Plugin-manager topics let external
plugins register and heartbeat; status broadcasts and lifecycle commands go back out. SONATA's
placement topic (``mano.service.place``) is answered by the placement executive
(:mod:`mano.gateway.placement_topic`), its FLM topics (``mano.function.*``) by the FLM
(:mod:`mano.gateway.function_topics`).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Mapping

import ray

from actors import calls, handles, naming
from actors.runtime import init_ray
from actors.plugin import PluginActor
from mano.lifecycle import nodes
from mano.gateway import northbound as nb
from mano.gateway import function_topics, placement_topic
from mano.gateway.core import GatewayCore, Inbound, Settle
from mano.messaging.bus import Bus
from mano.messaging.envelope import Message, encode_json_body
from mano.errors import LifecycleError, UnknownInstanceError
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)

APP_ID = "son-plugin.Gateway"
PM_TOPIC = "platform.management.plugin"



@ray.remote(num_cpus=0, max_concurrency=32, max_restarts=-1)
class Gateway(PluginActor):
    plugin_name = naming.GATEWAY
    plugin_description = "AMQP gateway: a SONATA gatekeeper drives mano over RabbitMQ"

    def __init__(self, settings: Settings, poll_s: float = 0.05):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self.bus = Bus(settings, app_id=APP_ID, name="mano-gateway", workers=32,
                       exchange_durable=settings.exchange_durable).start(wait=False)
        self.core = GatewayCore(handles.Slm(timeout=settings.step_timeout_s), self._store, self._publish)
        queue_prefix = f"mano.gateway.{settings.exchange}"
        for topic in nb.NORTHBOUND_TOPICS:
            self.bus.subscribe(topic, self._on_northbound, queue=f"{queue_prefix}.{topic}", durable=True,
                               manual_ack=True, ignore_own=True, kind="requests", concurrency=8,
                               on_malformed="deliver", timeout=30)
        self.bus.subscribe(f"{PM_TOPIC}.register", self._on_register, ignore_own=True, kind="requests", timeout=30)
        self.bus.subscribe(f"{PM_TOPIC}.deregister", self._on_deregister, ignore_own=True, timeout=30)
        self.bus.subscribe(f"{PM_TOPIC}.*.heartbeat", self._on_heartbeat, ignore_own=True, timeout=30)
        self.bus.subscribe("son.monitoring", self._on_alert, ignore_own=True, timeout=30)
        # The executive waits for the plugin twice at most (one retry), then answers by first fit.
        self._placement = handles.PlacementExecutive(timeout=2 * settings.placement_timeout_s + 30, retries=1)
        # A named queue: gateway replicas share it (one answer per question), and a restarted
        # gateway consumes the same one instead of leaving an orphan queue behind. Not durable: a
        # question waiting out a gateway restart is still answered, none survives a broker restart
        # (its asker gave up long before).
        # With the role handed to an external plugin, the topic is that plugin's: mano would
        # answer its own questions.
        if not settings.placement_plugin:
            place_queue = f"{queue_prefix}.{placement_topic.PLACE}"
            self.bus.subscribe(placement_topic.PLACE, self._on_place, queue=place_queue,
                               ignore_own=True, kind="requests", concurrency=4, on_malformed="deliver", timeout=30)
        # SONATA's FLM topics, for a SONATA SLM that drives mano's FLM; named queues, as above.
        self._functions = handles.Flm(timeout=settings.step_timeout_s)
        for topic in function_topics.TOPICS:
            self.bus.subscribe(topic, self._on_function, queue=f"{queue_prefix}.{topic}", ignore_own=True,
                               kind="requests", concurrency=8, on_malformed="deliver", timeout=30)
        try:
            self.core.adopt_legacy_replies()
        except Exception:  # noqa: BLE001 - the store away now: those replies wait for the next start
            log.warning("replies owed by an older gateway not adopted", exc_info=True)
        threading.Thread(target=self._watch, args=(poll_s,), name="final-replies", daemon=True).start()
        self._start_plugin(settings)
        try:
            handles.PluginManager(timeout=10).subscribe(ray.get_runtime_context().current_actor)
        except Exception:  # noqa: BLE001 - status broadcasts are best effort
            log.warning("cannot subscribe to plugin status changes", exc_info=True)

    # --- northbound ----------------------------------------------------------------------
    def _publish(self, topic: str, body: Mapping[str, Any], correlation_id: str | None) -> None:
        self.bus.publish(topic, dict(body), correlation_id=correlation_id, headers_type="reply").result(
            timeout=self._settings.step_timeout_s)

    def _on_northbound(self, message: Message, delivery: Any) -> None:
        inbound = Inbound(topic=message.topic, body=message.body, correlation_id=message.correlation_id,
                          malformed=str(message.error) if message.error is not None else None)
        try:
            outcome = self.core.handle(inbound)
        except Exception:  # noqa: BLE001 - a bug must not kill the consumer; the message is kept
            log.exception("gateway failed on %s %s", message.topic, message.correlation_id)
            outcome = Settle.REQUEUE
        if outcome == Settle.ACK:
            delivery.ack()
        elif outcome == Settle.REQUEUE:
            time.sleep(0.5)  # let the SLM or the store come back before the redelivery
            delivery.reject(requeue=True)
        else:
            delivery.reject(requeue=False)

    def _watch(self, poll_s: float) -> None:
        while True:
            try:
                self.core.send_due_finals()
            except Exception:  # noqa: BLE001 - store or broker away: try again on the next tick
                log.warning("final replies not sent this round", exc_info=True)
                time.sleep(1.0)
            time.sleep(poll_s)

    # --- plugin manager on the bus ---------------------------------------------------------
    def _on_register(self, message: Message, _delivery: Any) -> None:
        body = message.body or {}
        try:
            record = handles.PluginManager(timeout=10).register(str(body.get("name") or ""),
                                                                 str(body.get("version") or ""),
                                                                 str(body.get("description") or ""))
            reply = {"status": "OK", "name": record["name"], "version": record["version"],
                     "description": record["description"], "uuid": record["id"], "error": None}
        except Exception as exc:  # noqa: BLE001 - the registering plugin gets the reason
            reply = {"status": "ERROR", "name": body.get("name"), "error": str(exc), "uuid": None}
        self.bus.reply(message, encode_json_body(reply))  # JSON: SONATA's plugin base json.loads it

    def _on_deregister(self, message: Message, _delivery: Any) -> None:
        # No reply: SONATA's PM never sent one (its plugin base waits for none).
        plugin_id = (message.body or {}).get("uuid") if isinstance(message.body, dict) else None
        if not plugin_id:
            log.warning("plugin deregistration without a uuid dropped: %s", str(message.body)[:200])
            return
        try:
            handles.PluginManager(timeout=10).deregister(str(plugin_id))
        except UnknownInstanceError:
            log.info("deregistration of unknown plugin %s ignored", plugin_id)

    def _on_heartbeat(self, message: Message, _delivery: Any) -> None:
        body = message.body if isinstance(message.body, dict) else {}
        if not (body.get("uuid") and body.get("state")):
            log.warning("plugin heartbeat without uuid or state dropped: %s", str(message.body)[:200])
            return
        try:
            handles.PluginManager(timeout=10).heartbeat(str(body["uuid"]), str(body["state"]).upper())
        except LifecycleError as exc:  # a plugin we do not know, a state SONATA has not
            log.warning("plugin heartbeat %s refused: %s", str(body)[:200], exc)

    def plugin_status(self, status: dict) -> None:
        """Called by the plugin manager on every change: SONATA's status broadcast, in JSON."""
        self.bus.publish(f"{PM_TOPIC}.status", encode_json_body(status))

    def send_lifecycle(self, plugin_id: str, command: str) -> None:
        """A start/pause/stop command for a plugin that lives outside Ray (registered over AMQP)."""
        self.bus.publish(f"{PM_TOPIC}.{plugin_id}.lifecycle.{command}", encode_json_body({})).result(timeout=10)

    # --- placement (SONATA's mano.service.place) --------------------------------------------
    def _on_place(self, message: Message, _delivery: Any) -> None:
        inbound = Inbound(topic=message.topic, body=message.body, correlation_id=message.correlation_id,
                          malformed=str(message.error) if message.error is not None else None)
        try:
            body = placement_topic.answer(inbound, self._placement.place,
                                          default_policy=self._settings.placement_policy)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the consumer; the asker gets the reason
            log.exception("placement request %s failed", message.correlation_id)
            body = placement_topic.error_reply(
                f"internal error in mano's gateway: {type(exc).__name__}: {exc}")
        if body.get("error"):
            log.info("placement request %s refused: %s", message.correlation_id, str(body["error"])[:300])
        self.bus.reply(message, body)

    # --- the FLM (SONATA's mano.function.*) -------------------------------------------------
    def _on_function(self, message: Message, _delivery: Any) -> None:
        inbound = Inbound(topic=message.topic, body=message.body, correlation_id=message.correlation_id,
                          malformed=str(message.error) if message.error is not None else None)
        try:
            body = function_topics.answer(inbound, self._functions, default_vim=self._settings.default_vim)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the consumer; the asker gets the reason
            log.exception("%s request %s failed", message.topic, message.correlation_id)
            body = {"status": "ERROR", "error": f"internal error in mano's gateway: {type(exc).__name__}: {exc}"}
        if body.get("error"):
            log.info("%s request %s: %s", message.topic, message.correlation_id, str(body["error"])[:300])
        self.bus.reply(message, body)

    # --- monitoring ------------------------------------------------------------------------
    def _on_alert(self, message: Message, _delivery: Any) -> None:
        alert = message.body or {}
        service_id = alert.get("serviceID") or alert.get("service_id")
        if not service_id:
            log.warning("monitoring alert without serviceID dropped: %s", str(alert)[:200])
            return
        handle = calls.lookup(naming.MONITORING)
        if handle is None:
            log.info("alert for %s: no monitoring actor running", service_id)
            return
        calls.tell(handle, "alert", str(service_id), alert)

    def stop_bus(self) -> None:
        self.bus.stop()


def start_gateway(settings: Settings, *, timeout_s: float = 60.0) -> Any:
    """Start (or find) the AMQP gateway actor; needs the broker at ``settings.broker_url``."""
    init_ray(settings)
    gateway = calls.create(Gateway, settings, where=nodes.control_plane(settings), name=naming.GATEWAY,
                           namespace=naming.NAMESPACE, lifetime="detached", get_if_exists=True)
    calls.ask(gateway, "ping", timeout=timeout_s, what="gateway start")
    return gateway
