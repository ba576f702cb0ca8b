"""The placement role handed to an external plugin (``MANO_PLACEMENT_PLUGIN``): a plugin that
knows only SONATA's contracts registers with mano over AMQP as SONATA's placement plugin does,
is started, and answers ``mano.service.place``; a runtime of its own (another process: the
setting is the runtime's) places its services with it while it runs, says so when it refuses,
and places with its own engine once it is gone."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pika
import pytest
import yaml

from mano.messaging.testing import ensure_broker
from paths import EXAMPLES, REPO
from sonata_plugin import PM, SonataPlugin

pytestmark = pytest.mark.integration

PLACE = "mano.service.place"
NAME = "son-plugin.PlacementPlugin"  # what SONATA's plugin registers as

CHILD = r"""
import json, sys, traceback
import mano
from mano.gateway.actor import start_gateway
from mano.settings import Settings
rt = mano.init(Settings.from_env())
start_gateway(rt.settings)
print("UP", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    try:
        svc = mano.instantiate(sys.argv[1], timeout=60)
        out = {"status": svc.status, "pops": sorted({v.pop for v in svc.record.vnf_instances}),
               "placement": svc.operations[0].step("place").result["placement"]}
        svc.terminate()
    except Exception as exc:
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print("RESULT " + json.dumps(out), flush=True)
mano.shutdown()
"""


class PlacementPeer:
    """SONATA's placement plugin's side of ``mano.service.place``: reads the YAML request, puts
    every function on the request's last VIM (or refuses, ``self.refuse``), replies on the topic
    with the request's correlation id and no ``reply_to``."""

    def __init__(self, url: str, exchange: str):
        self.url, self.exchange = url, exchange
        self.requests: list[dict] = []
        self.refuse: str | None = None
        self._queue = f"sonata-placement.{uuid.uuid4().hex[:8]}"
        conn = pika.BlockingConnection(pika.URLParameters(url))
        ch = conn.channel()
        ch.exchange_declare(exchange, exchange_type="topic", durable=True)
        ch.queue_declare(self._queue, auto_delete=False)
        ch.queue_bind(self._queue, exchange, routing_key=PLACE)
        conn.close()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        for method, props, body in ch.consume(self._queue, inactivity_timeout=0.1, auto_ack=True):
            if self._stop:
                break
            if method is None or not props.reply_to or props.app_id == NAME:
                continue  # replies (ours included) are not requests
            request = yaml.safe_load(body)
            self.requests.append(request)
            if self.refuse:
                reply = {"error": self.refuse, "mapping": {}}
            else:
                last = request["topology"]["vims"]["vim_list"][-1]["vim_uuid"]
                reply = {"error": None, "mapping": {"du": {f["id"]: last for f in request["functions"]}, "vl": {}}}
            ch.basic_publish(self.exchange, props.reply_to, yaml.safe_dump(reply).encode(), pika.BasicProperties(
                app_id=NAME, content_type="application/json", correlation_id=props.correlation_id,
                headers={"key": "default", "type": "reply"}))
        conn.close()

    def close(self):
        self._stop = True
        self._thread.join(5)
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        conn.channel().queue_delete(self._queue)
        conn.close()


def test_a_registered_placement_plugin_places_while_it_runs(tmp_path, mongo_url):
    import os
    from mano.settings import Settings
    url = Settings.from_env().broker_url
    ensure_broker(url)
    exchange = f"son-kernel-ext-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "MANO_HOME": str(tmp_path), "MANO_MONGO_URL": mongo_url,
           "MANO_MONGO_DB": f"ext{uuid.uuid4().hex[:6]}", "MANO_EXCHANGE": exchange, "MANO_EXCHANGE_DURABLE": "1",
           "MANO_DASHBOARD": "0", "MANO_PLACEMENT_PLUGIN": NAME, "MANO_HEARTBEAT_S": "0.5",
           "MANO_MONITORING_PERIOD_S": "0", "PYTHONPATH": str(REPO)}
    for name in ("MANO_RAY_ADDRESS", "RAY_ADDRESS"):
        env.pop(name, None)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(EXAMPLES / "sonata-demo")], cwd=tmp_path, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peer = plugin = None

    def instantiate() -> dict:
        child.stdin.write("go\n")
        child.stdin.flush()
        while not (line := child.stdout.readline()).startswith("RESULT "):
            assert line, child.stderr.read()[-3000:]
        return json.loads(line[len("RESULT "):])

    try:
        while (line := child.stdout.readline()).strip() != "UP":
            assert line, child.stderr.read()[-3000:]
        peer = PlacementPeer(url, exchange)
        plugin = SonataPlugin(url, exchange, NAME)
        assert plugin.register()["status"] == "OK"
        plugin.start_heartbeats()  # READY, then RUNNING once the plugin manager starts it
        plugin.wait_for(lambda key, c, body: key == f"{PM}.{plugin.uuid}.lifecycle.start")
        plugin.status_where(lambda plugins: plugins.get(plugin.uuid, {}).get("state") == "RUNNING")

        placed = instantiate()
        assert placed.get("status") == "READY", placed
        assert len(peer.requests) == 1, placed  # asked once, in SONATA's format
        [request] = peer.requests
        last = request["topology"]["vims"]["vim_list"][-1]["vim_uuid"]
        assert placed["pops"] == [last]  # where the plugin put them, not where the engine would
        assert placed["placement"]["solver"] == NAME and "fallback" not in placed["placement"]
        assert {f["vnfd"]["name"] for f in request["functions"]} == {"firewall-vnf", "iperf-vnf", "tcpdump-vnf"}
        assert request["operator_policies"]["policy"] == "load balanced" and request["nsd"]["name"]
        assert all(v["memory_total"] >= 1024 for v in request["topology"]["vims"]["vim_list"])  # MB, as SONATA's

        peer.refuse = "Result of placement: infeasible, no VIM has the cores"
        refused = instantiate()
        assert "placement plugin son-plugin.PlacementPlugin: Result of placement: infeasible" in refused["error"]

        peer.refuse = None
        before = len(peer.requests)
        plugin.stop_heartbeats()
        plugin.publish(f"{PM}.deregister", {"uuid": plugin.uuid})
        plugin.status_where(lambda plugins: plugin.uuid not in plugins)
        engine = instantiate()
        assert engine.get("status") == "READY", engine
        assert engine["placement"]["solver"] in ("exhaustive", "exact", "fast")
        assert engine["placement"]["fallback"] == f"placement plugin {NAME} is not registered: mano's engine answered"
        assert len(peer.requests) == before  # not asked once gone
    finally:
        if child.poll() is None:
            child.stdin.write("quit\n")
            child.stdin.flush()
            try:
                child.wait(60)
            except subprocess.TimeoutExpired:
                child.kill()
        for part in (plugin, peer):
            if part is not None:
                part.close()
        conn = pika.BlockingConnection(pika.URLParameters(url))
        conn.channel().exchange_delete(exchange)
        conn.close()
