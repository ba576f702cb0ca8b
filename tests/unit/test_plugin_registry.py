"""The plugin manager's registry, without Ray: registration, heartbeats, the watchdog, commands."""
from __future__ import annotations

import datetime as dt

import pytest

from mano.errors import InvalidTransitionError, LifecycleError, UnknownInstanceError
from mano.lifecycle.plugins import PluginRegistry
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
    with pytest.raises(ValueError):
        registry.heartbeat(record.id, "DANCING")
