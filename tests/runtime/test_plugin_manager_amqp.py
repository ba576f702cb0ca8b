"""The plugin manager over AMQP against a real RabbitMQ, driven by a plugin that behaves as one
built on SONATA's plugin base class (son-mano-base ``ManoBasePlugin``): JSON bodies read with
``json.loads``, registration by ``call_async`` on ``platform.management.plugin.register``,
READY heartbeats until it is sent ``lifecycle.start``, then RUNNING; deregistration removes it."""
from __future__ import annotations

import time
import uuid

import pytest

from gatekeeper import own_gateway
from sonata_plugin import PM, SonataPlugin

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bus(rt):
    with own_gateway(rt.settings, "son-kernel-pm") as settings:
        yield settings


def test_a_sonata_plugin_registers_is_started_commanded_and_deregistered(bus, rt):
    plugin = SonataPlugin(bus.broker_url, bus.exchange, f"son-plugin.Test{uuid.uuid4().hex[:6]}")
    try:
        reply = plugin.register()  # parsed with json.loads: a YAML reply fails here
        assert reply["status"] == "OK" and reply["error"] is None and reply["name"] == plugin.name
        assert reply["version"] == "0.9" and reply["description"] == "a SONATA plugin"
        uuid.UUID(reply["uuid"])
        # the registration is broadcast, in SONATA's form (seven keys per plugin)
        status = plugin.status_where(lambda plugins: plugin.uuid in plugins)
        view = status["plugin_dict"][plugin.uuid]
        assert set(view) == {"uuid", "name", "version", "description", "state", "registered_at", "last_heartbeat_at"}
        assert view["state"] == "REGISTERED" and isinstance(status["timestamp"], str)

        plugin.start_heartbeats()  # READY: registered, waiting for its start
        key, _, body = plugin.wait_for(lambda key, c, body: key == f"{PM}.{plugin.uuid}.lifecycle.start")
        assert body == {}
        # the plugin now heartbeats RUNNING, and the plugin manager records and broadcasts it
        plugin.status_where(lambda plugins: plugins.get(plugin.uuid, {}).get("state") == "RUNNING")
        assert rt.call("plugin-manager", "get", plugin.uuid)["state"] == "RUNNING"

        # the operator pauses it by name (mano plugins pause NAME): the command goes out on its topic
        assert rt.call("plugin-manager", "command", plugin.name, "pause")["state"] == "PAUSED"
        plugin.wait_for(lambda key, c, body: key == f"{PM}.{plugin.uuid}.lifecycle.pause")
        plugin.status_where(lambda plugins: plugins.get(plugin.uuid, {}).get("state") == "PAUSED")

        plugin.stop_heartbeats()
        plugin.heartbeat("DANCING")  # a state SONATA has not: refused, the plugin manager carries on
        time.sleep(1.0)
        assert rt.call("plugin-manager", "get", plugin.uuid)["state"] == "PAUSED"
        # silent past its timeout (5 heartbeats, at least 5 s): FAILED, recorded and broadcast
        silent = time.monotonic()
        plugin.status_where(lambda plugins: plugins.get(plugin.uuid, {}).get("state") == "FAILED", timeout=30)
        assert rt.call("plugin-manager", "get", plugin.uuid)["state"] == "FAILED"
        assert time.monotonic() - silent >= 3.0  # not before its timeout (1 s of silence had passed)
        before = plugin.mark()  # broadcasts from before its registration lack it too
        plugin.publish(f"{PM}.deregister", {"uuid": plugin.uuid})  # SONATA sends no reply to this
        plugin.status_where(lambda plugins: plugin.uuid not in plugins, since=before)
        assert plugin.name not in {p["name"] for p in rt.call("plugin-manager", "list")}  # removed, as in SONATA
        assert "slm" in {p["name"] for p in rt.call("plugin-manager", "list")}  # mano's own plugins stay
    finally:
        plugin.close()
