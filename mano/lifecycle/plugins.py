"""The plugin manager's registry: who is registered, alive, paused or gone.

Plugins register with a name, version and description and get a uuid; they heartbeat with
their state every few seconds. A plugin whose heartbeats stop for longer than the timeout is
marked FAILED (SONATA's PM never noticed dead plugins). A SONATA plugin reports READY once
registered and is sent ``lifecycle.start`` for it; deregistering removes the plugin. Commands
(start, pause, stop) are checked against the state table before they are sent. Re-registering under the same name
(a restarted plugin actor) reuses the record instead of leaving a dead twin behind.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from mano.errors import LifecycleError, RecordNotFoundError, UnknownInstanceError
from mano.lifecycle.states import PLUGIN_TRANSITIONS, PluginState, transition
from mano.records import PluginRecord, utcnow

COMMAND_TARGETS = {"start": PluginState.RUNNING, "pause": PluginState.PAUSED, "stop": PluginState.STOPPED}


class PluginRegistry:
    def __init__(self, plugins: Any, *, heartbeat_timeout_s: float = 10.0):
        self._plugins = plugins
        self.heartbeat_timeout_s = heartbeat_timeout_s

    def register(self, name: str, version: str, description: str = "") -> PluginRecord:
        if not name or not isinstance(name, str):
            raise LifecycleError("a plugin needs a non-empty name")
        existing = self._plugins.find({"name": name}, limit=1)
        now = utcnow()
        if existing:
            return self._plugins.mutate(existing[0].id, lambda r: r.model_copy(update={
                "version": str(version), "description": description or "", "state": PluginState.REGISTERED,
                "registered_at": now, "last_heartbeat_at": now}))
        return self._plugins.insert(PluginRecord(id=str(uuid.uuid4()), name=name, version=str(version),
                                                 description=description or "", last_heartbeat_at=now))

    def get(self, plugin_id: str) -> PluginRecord:
        try:
            return self._plugins.get(plugin_id)
        except RecordNotFoundError:
            raise UnknownInstanceError(f"no plugin {plugin_id!r}") from None

    def heartbeat(self, plugin_id: str, state: PluginState | str) -> PluginRecord:
        """Record a heartbeat; a state change reported by the plugin itself is taken as is.

        READY (a SONATA plugin waiting for its start, :func:`wants_start`) is not stored, as in
        SONATA's PM; it only brings a FAILED plugin back to REGISTERED."""
        reported = parse_state(state)
        self.get(plugin_id)

        def change(record: PluginRecord) -> PluginRecord:
            new_state = record.state
            if reported is PluginState.READY:
                if record.state == PluginState.FAILED:
                    new_state = PluginState.REGISTERED
            elif reported not in (record.state, PluginState.REGISTERED) and reported in PLUGIN_TRANSITIONS[record.state]:
                new_state = reported
            elif record.state == PluginState.FAILED:
                new_state = reported if reported != PluginState.REGISTERED else PluginState.RUNNING
            return record.model_copy(update={"state": new_state, "last_heartbeat_at": utcnow()})
        return self._plugins.mutate(plugin_id, change)

    def find(self, name_or_id: str) -> PluginRecord:
        """A plugin by its uuid or its name (``mano plugins pause slm``)."""
        try:
            return self._plugins.get(name_or_id)
        except RecordNotFoundError:
            pass
        found = self._plugins.find({"name": name_or_id}, limit=1)
        if not found:
            raise UnknownInstanceError(f"no plugin named {name_or_id!r} or with that uuid")
        return found[0]

    def command(self, plugin_id: str, command: str) -> PluginState:
        """Check a start/pause/stop command; return the state the plugin should go to."""
        if command not in COMMAND_TARGETS:
            raise LifecycleError(f"unknown plugin command {command!r}; expected start, pause or stop")
        record = self.get(plugin_id)
        return transition(PLUGIN_TRANSITIONS, record.state, COMMAND_TARGETS[command], what=f"plugin {record.name}")

    def set_state(self, plugin_id: str, state: PluginState) -> PluginRecord:
        return self._plugins.mutate(plugin_id, lambda r: r.model_copy(update={
            "state": transition(PLUGIN_TRANSITIONS, r.state, state, what=f"plugin {r.name}")}))

    def deregister(self, plugin_id: str) -> PluginRecord:
        """Remove the plugin from the registry, as SONATA's PM did: it is no longer listed, and a
        plugin that comes back registers anew. Returns the record as it was."""
        record = self.get(plugin_id)
        self._plugins.delete(plugin_id, missing_ok=True)
        return record

    def check_heartbeats(self, now: dt.datetime | None = None) -> list[PluginRecord]:
        """Mark plugins FAILED whose last heartbeat is older than the timeout; return them."""
        now = now or utcnow()
        failed = []
        for record in self._plugins.find({"state": {"$in": [PluginState.RUNNING.value, PluginState.PAUSED.value,
                                                             PluginState.REGISTERED.value]}}):
            last = record.last_heartbeat_at or record.registered_at
            if (now - last).total_seconds() > self.heartbeat_timeout_s:
                failed.append(self.set_state(record.id, PluginState.FAILED))
        return failed

    def list(self) -> list[PluginRecord]:
        return self._plugins.find(sort="name")


def parse_state(state: PluginState | str) -> PluginState:
    """A reported plugin state, or a clear error (a plugin's typo must not look like a crash)."""
    try:
        return PluginState(state)
    except ValueError:
        known = ", ".join(s.value for s in PluginState)
        raise LifecycleError(f"unknown plugin state {state!r}; a plugin reports one of {known}") from None


def wants_start(state: PluginState | str) -> bool:
    """Whether a heartbeat asks for ``lifecycle.start``: a SONATA plugin reports READY after its
    registration, and its PM answered every such heartbeat with a start."""
    return parse_state(state) is PluginState.READY


def sonata_plugin(record: PluginRecord) -> dict[str, Any]:
    """A plugin as SONATA's PM put it in its status broadcast (its ``Plugin.to_dict``: seven
    keys, the times as text)."""
    return {"uuid": record.id, "name": record.name, "version": record.version, "description": record.description,
            "state": record.state.value, "registered_at": str(record.registered_at),
            "last_heartbeat_at": str(record.last_heartbeat_at)}


def sonata_status(records: list[PluginRecord]) -> dict[str, Any]:
    """SONATA's ``platform.management.plugin.status`` body: every registered plugin by uuid."""
    return {"timestamp": str(utcnow()), "plugin_dict": {r.id: sonata_plugin(r) for r in records}}
