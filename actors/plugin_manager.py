"""The plugin manager actor: registry of plugins, heartbeat watchdog, lifecycle commands.

Plugins are mano's own actors (commanded through their ``lifecycle`` method) or external ones
that registered over AMQP through the gateway (commanded on SONATA's
``platform.management.plugin.<uuid>.lifecycle.*`` topics). Every change is broadcast in
SONATA's status form to the listeners (the gateway publishes it).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import ray

from actors import calls, handles, naming
from mano.lifecycle.plugins import COMMAND_TARGETS, PluginRegistry, sonata_status, wants_start
from mano.lifecycle.states import PluginState
from actors.plugin import store_info
from mano.settings import Settings
from mano.store.client import connect

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_concurrency=16)
class PluginManager:
    def __init__(self, settings: Settings):
        self._settings = settings
        self._store = connect(settings, stop_embedded_on_exit=False)
        self.core = PluginRegistry(self._store.plugins, heartbeat_timeout_s=max(5 * settings.heartbeat_s, 5.0))
        self._listeners: list[Any] = []
        threading.Thread(target=self._watchdog, args=(settings.heartbeat_s,), daemon=True).start()

    def register(self, name: str, version: str, description: str = "") -> dict:
        record = self.core.register(name, version, description)
        self._announce()
        return record.model_dump(mode="json")

    def heartbeat(self, plugin_id: str, state: str) -> dict:
        before = self.core.get(plugin_id).state
        record = self.core.heartbeat(plugin_id, state)
        if record.state != before:
            self._announce()
        if wants_start(state):  # a SONATA plugin, registered and waiting: start it, as SONATA's PM did
            try:
                self._send(record.id, record.name, "start")
            except Exception:  # noqa: BLE001 - its next READY heartbeat asks again
                log.warning("lifecycle.start for %s (%s) not sent", record.name, record.id, exc_info=True)
        return record.model_dump(mode="json")

    def deregister(self, plugin_id: str) -> dict:
        record = self.core.deregister(plugin_id).model_dump(mode="json")
        self._announce()
        return record

    def command(self, plugin: str, command: str) -> dict:
        """Send start/pause/stop to a plugin (by uuid or name), then record its new state."""
        record = self.core.find(plugin)
        target = self.core.command(record.id, command)
        self._send(record.id, record.name, command)
        updated = self.core.set_state(record.id, target)
        self._announce()
        return updated.model_dump(mode="json")

    def _send(self, plugin_id: str, name: str, command: str) -> None:
        actor = calls.lookup(name)
        if actor is None:  # an external plugin that registered over AMQP: command it there
            handles.Gateway(timeout=10, retries=0).send_lifecycle(plugin_id, command)
        else:
            calls.ask(actor, "lifecycle", COMMAND_TARGETS[command].value, timeout=10, what=f"{name}.lifecycle")

    def list(self) -> list[dict]:
        return [r.model_dump(mode="json") for r in self.core.list()]

    def get(self, plugin_id: str) -> dict:
        return self.core.get(plugin_id).model_dump(mode="json")

    def subscribe(self, listener: Any) -> None:
        """Register an actor whose ``plugin_status(dict)`` hears every state change (the gateway)."""
        self._listeners.append(listener)

    def _announce(self) -> None:
        status = sonata_status(self.core.list())
        for listener in list(self._listeners):
            try:
                calls.tell(listener, "plugin_status", status)
            except Exception:  # noqa: BLE001 - a gone listener must not break the registry
                self._listeners.remove(listener)

    def _watchdog(self, period_s: float) -> None:
        while True:
            time.sleep(period_s)
            try:
                failed = self.core.check_heartbeats()
            except Exception:  # noqa: BLE001
                log.warning("heartbeat check failed", exc_info=True)
                continue
            for record in failed:
                log.warning("plugin %s (%s) stopped heartbeating: FAILED", record.name, record.id)
            if failed:
                self._announce()

    def store_info(self) -> dict:
        """Which store this actor uses (see :func:`actors.plugin.store_info`)."""
        return store_info(getattr(self, "_store", None), getattr(self, "_settings", None))

    def ping(self) -> str:
        return naming.PLUGIN_MANAGER


__all__ = ["PluginManager", "PluginState"]
