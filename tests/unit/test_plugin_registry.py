"""The plugin manager's registry, without Ray: registration, heartbeats, the watchdog, commands."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from mano.errors import InvalidTransitionError, LifecycleError, UnknownInstanceError
from mano.lifecycle.plugins import PluginRegistry, sonata_status, wants_start
from mano.lifecycle.states import PluginState


@pytest.fixture
def registry(store):
    return PluginRegistry(store.plugins, heartbeat_timeout_s=5)


def test_register_heartbeat_and_reregister(registry):
    record = registry.register("slm", "1.0", "service lifecycle")
    assert record.state == PluginState.REGISTERED
    assert registry.heartbeat(record.id, "RUNNING").state == PluginState.RUNNING
    again = registry.register("slm", "1.1")
    assert again.id == record.id and again.version == "1.1"  # no dead twin left behind
    assert len(registry.list()) == 1


def test_missed_heartbeats_mark_failed_and_a_heartbeat_revives(registry):
    record = registry.register("flm", "1.0")
    registry.heartbeat(record.id, "RUNNING")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=6)
    assert [r.name for r in registry.check_heartbeats(later)] == ["flm"]
    assert registry.get(record.id).state == PluginState.FAILED
    assert registry.check_heartbeats(later) == []  # reported once
    assert registry.heartbeat(record.id, "RUNNING").state == PluginState.RUNNING


def test_commands_follow_the_state_table(registry):
    record = registry.register("placement", "1.0")
    registry.heartbeat(record.id, "RUNNING")
    assert registry.command(record.id, "pause") == PluginState.PAUSED
    registry.set_state(record.id, PluginState.STOPPED)
    with pytest.raises(InvalidTransitionError, match="cannot go from STOPPED to RUNNING"):
        registry.command(record.id, "start")
    with pytest.raises(LifecycleError, match="unknown plugin command 'explode'"):
        registry.command(record.id, "explode")
    with pytest.raises(UnknownInstanceError):
        registry.heartbeat("nope", "RUNNING")
    with pytest.raises(LifecycleError, match="unknown plugin state 'DANCING'"):
        registry.heartbeat(record.id, "DANCING")


def test_a_sonata_plugin_reports_ready_and_is_started_not_stored(registry):
    """SONATA's plugin base heartbeats READY once registered; its PM answered each READY with
    lifecycle.start and kept the stored state until the plugin reported RUNNING."""
    record = registry.register("son-plugin.Placement", "0.9")
    assert wants_start("READY") and not wants_start("RUNNING")
    assert registry.heartbeat(record.id, "READY").state == PluginState.REGISTERED
    assert registry.heartbeat(record.id, "RUNNING").state == PluginState.RUNNING
    assert registry.heartbeat(record.id, "PAUSED").state == PluginState.PAUSED
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=6)
    registry.check_heartbeats(later)
    assert registry.heartbeat(record.id, "READY").state == PluginState.REGISTERED  # back, waiting for its start


def test_deregistering_removes_the_plugin_and_lookup_by_name(registry):
    kept = registry.register("slm", "1.0")
    gone = registry.register("son-plugin.Foo", "1.0")
    assert registry.find("son-plugin.Foo").id == gone.id and registry.find(kept.id).name == "slm"
    assert registry.deregister(gone.id).name == "son-plugin.Foo"
    assert [r.name for r in registry.list()] == ["slm"]  # no longer listed, as in SONATA
    with pytest.raises(UnknownInstanceError):
        registry.find("son-plugin.Foo")
    with pytest.raises(UnknownInstanceError):
        registry.deregister(gone.id)


def test_the_status_broadcast_has_sonatas_form(registry):
    record = registry.register("son-plugin.Foo", "1.0", "a plugin")
    status = sonata_status(registry.list())
    assert set(status) == {"timestamp", "plugin_dict"} and isinstance(status["timestamp"], str)
    view = status["plugin_dict"][record.id]
    assert set(view) == {"uuid", "name", "version", "description", "state", "registered_at", "last_heartbeat_at"}
    assert (view["uuid"], view["state"]) == (record.id, "REGISTERED")
    json.dumps(status)  # every value has a JSON form
