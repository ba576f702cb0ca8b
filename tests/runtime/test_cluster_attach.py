"""Attach, explicitly (issue 16): mano runs on a Ray cluster only when told to, joins it with its
token or says why it cannot, and a client never tears down a control plane it did not start.

Real Ray throughout: a head of the test's own (``ray_cluster.RayHead``: token auth, ports in
6400-6499, its own ``RAY_TMPDIR``), ``mano up`` daemons, and clients in fresh interpreters
(this process may hold the session's Ray already).
"""
from __future__ import annotations

import json
import os
import time
import uuid

import psutil
import pytest

from paths import EXAMPLES
import mano_daemon
from mano_daemon import gone, gone_wait, mano, mano_env
from ray_cluster import RayHead, closed_port, run_python, run_python_logged

pytestmark = pytest.mark.integration

SINGLETONS = {"plugin-manager", "infrastructure-adaptor", "placement", "placement-executive", "flm", "slm",
              "monitoring", "smr"}


def processes_of(home) -> list[psutil.Process]:
    """Processes that belong to the runtime of MANO_HOME ``home`` (its daemon, its store server)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(home) in " ".join(p.info["cmdline"] or []) or p.environ().get("MANO_HOME") == str(home):
                found.append(p)
        except (psutil.Error, OSError):
            pass
    return found


@pytest.fixture(scope="module")
def head():
    cluster = RayHead().start()
    try:
        yield cluster
    finally:
        cluster.stop()


# --- the embedded runtime stays embedded -------------------------------------------------------
EMBEDDED_CLIENT = r"""
import json
import ray
import mano
from mano.settings import Settings
rt = mano.init(Settings.from_env())
out = {"gcs": ray.get_runtime_context().gcs_address, "plugins": len(rt.call("plugin-manager", "list"))}
mano.shutdown()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.parametrize("finds_it_by", ["RAY_ADDRESS", "the current-cluster file"])
def test_the_embedded_runtime_never_joins_a_cluster_it_was_not_told_about(head, finds_it_by, tmp_path, mongo_url):
    """A bare ``ray.init()`` joins the cluster of RAY_ADDRESS, or the one ``ray start`` recorded
    in Ray's current-cluster file; with the head's token at hand it would be let in."""
    assert head.current_cluster_file.read_text().strip().endswith(f":{head.port}")
    env = mano_env(head.client_env(RAY_AUTH_MODE="token", RAY_TMPDIR=str(head.dir)), tmp_path, mongo_url)
    if finds_it_by == "RAY_ADDRESS":
        env["RAY_ADDRESS"] = head.address
    out = run_python(EMBEDDED_CLIENT, env=env)
    assert not out["gcs"].endswith(f":{head.port}"), out  # a Ray of its own
    assert head.look()["mano"] == []  # nothing of mano's on the cluster it was not told about


# --- mano up --address ---------------------------------------------------------------------------
@pytest.mark.parametrize("given_by", ["--address", "MANO_RAY_ADDRESS"])
def test_mano_up_on_an_unreachable_address_fails_fast_and_leaves_nothing_behind(given_by, tmp_path):
    address = f"127.0.0.1:{closed_port()}"
    env = mano_env(os.environ, tmp_path)
    args = ["up", "--address", address] if given_by == "--address" else ["up"]
    if given_by == "MANO_RAY_ADDRESS":
        env["MANO_RAY_ADDRESS"] = address
    started = time.monotonic()
    up = mano(*args, env=env, timeout=60)
    took = time.monotonic() - started
    assert up.returncode != 0
    message = " ".join(up.stderr.split())  # rich wraps long lines
    assert f"the Ray cluster at {address} is unreachable: connection refused" in message, up.stderr[-2000:]
    assert took < 30, f"{took:.1f} s to fail"
    assert not (tmp_path / "runtime.json").exists()
    assert processes_of(tmp_path) == []  # no daemon, no store server: no embedded fallback


def test_mano_up_with_a_token_the_cluster_refuses_fails_and_says_so(head, tmp_path):
    env = mano_env(head.client_env(RAY_AUTH_TOKEN=os.urandom(32).hex()), tmp_path)
    up = mano("up", "--address", head.address, env=env, timeout=60)
    assert up.returncode != 0
    message = " ".join(up.stderr.split())
    assert (f"the Ray cluster at {head.address} refused mano's token authentication: the token in "
            "$RAY_AUTH_TOKEN is not the cluster's") in message, up.stderr[-2000:]
    assert not (tmp_path / "runtime.json").exists() and processes_of(tmp_path) == []


def test_mano_up_on_a_cluster_runs_the_control_plane_there_and_down_leaves_the_cluster_up(head, tmp_path,
                                                                                            mongo_url):
    env = mano_env(head.client_env(), tmp_path, mongo_url)  # the token in a file, RAY_AUTH_MODE unset
    try:
        started = time.monotonic()
        up = mano("up", "--address", head.address, env=env)
        print(f"mano up --address: attached in {time.monotonic() - started:.1f} s")
        assert up.returncode == 0, up.stderr[-3000:]
        info = json.loads((tmp_path / "runtime.json").read_text())
        assert info["attached_to"] == head.address and info["ray_address"].endswith(f":{head.port}")
        plugins = mano("plugins", "--json", env=env)  # the plugin manager answers from the cluster
        assert plugins.returncode == 0, plugins.stderr[-2000:]
        assert {p["name"] for p in json.loads(plugins.stdout)} <= SINGLETONS
        made = mano("instantiate", str(EXAMPLES / "sonata-demo"), "--json", env=env)
        assert made.returncode == 0, made.stderr[-2000:]
        service = json.loads(made.stdout)["service"]
        assert service["state"] == "READY"
        assert SINGLETONS <= set(head.look()["mano"])  # the control plane runs on the cluster
    finally:
        down = mano("down", env=env)
    assert down.returncode == 0, down.stderr[-2000:]
    assert gone_wait(info["pid"]), "mano down left the daemon running"
    seen = head.look()
    assert seen["mano"] == [] and seen["nodes"] == 1  # mano's actors are gone, the cluster is up
    assert head.alive()


SCRIPT_ON_A_CLUSTER = r"""
import json
import mano
from mano.settings import Settings
rt = mano.init(Settings.from_env())
svc = mano.instantiate(DEMO)
out = {"status": svc.status}
svc.terminate()
mano.shutdown()
print("RESULT " + json.dumps(out))
"""


def test_a_script_that_brought_the_control_plane_up_on_a_cluster_takes_it_down_at_shutdown(head, tmp_path,
                                                                                              mongo_url):
    """MANO_RAY_ADDRESS and no ``mano up``: the script's mano.init() creates the plugin actors on
    the cluster (detached); its mano.shutdown() must not leave them behind."""
    env = mano_env(head.client_env(), tmp_path, mongo_url, MANO_RAY_ADDRESS=head.address)
    out = run_python(SCRIPT_ON_A_CLUSTER.replace("DEMO", repr(str(EXAMPLES / "sonata-demo"))), env=env)
    assert out["status"] == "READY"
    assert head.look()["mano"] == [] and head.alive()  # no actor of mano's left; the cluster is up


# --- clients of a mano up runtime ----------------------------------------------------------------
@pytest.fixture(scope="module")
def daemon(tmp_path_factory, mongo_url):
    """``mano up --gateway`` on an embedded Ray, its token in a file of the test's own."""
    from mano.gateway import northbound, placement_topic
    from mano.messaging.testing import ensure_broker

    home = tmp_path_factory.mktemp("daemon-home")
    token_file = home / "auth_token"
    token_file.write_text(os.urandom(32).hex())
    base = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    exchange = f"son-kernel-attach-{uuid.uuid4().hex[:6]}"
    env = mano_env(base, home, mongo_url, RAY_AUTH_TOKEN_PATH=str(token_file), MANO_EXCHANGE=exchange)
    broker_url = os.environ.get("MANO_BROKER_URL") or "amqp://guest:guest@localhost:5672/%2F"
    ensure_broker(broker_url)
    try:
        with mano_daemon.daemon("--gateway", env=env) as running:
            yield running
    finally:
        import pika
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        channel = connection.channel()
        for topic in (*northbound.NORTHBOUND_TOPICS, placement_topic.PLACE):
            channel.queue_delete(f"mano.gateway.{exchange}.{topic}")
        channel.exchange_delete(exchange)
        connection.close()


CLIENT_THAT_SHUTS_DOWN = r"""
import json
import ray
import mano
from actors import runtime as actor_runtime
from mano.settings import Settings
rt = mano.init(Settings.from_env())
before = actor_runtime.actor_names()
mano.shutdown()
ray.init(address=rt.settings.ray_address, namespace="mano", logging_level="ERROR", log_to_driver=False)
after = {name: ray.get(ray.get_actor(name).ping.remote(), timeout=60) for name in actor_runtime.actor_names()
         if ":" not in name and "-host-" not in name}  # the plugins: no instance, no pre-started host
print("RESULT " + json.dumps({"before": before, "after": after}))
"""


def test_a_client_that_shuts_down_leaves_the_mano_up_runtime_running(daemon):
    env = {**daemon["env"], "MANO_RAY_ADDRESS": daemon["info"]["ray_address"],
           "MANO_MONGO_URL": daemon["info"]["mongo_url"], "RAY_AUTH_MODE": "token"}
    out = run_python(CLIENT_THAT_SHUTS_DOWN, env=env)
    assert SINGLETONS | {"gateway"} <= set(out["before"])
    assert set(out["after"]) >= SINGLETONS | {"gateway"}, out  # every one still answers
    assert not gone(daemon["info"]["pid"])


CLIENT_DURING_RESTARTS = r"""
import json, logging, signal, sys, time
import psutil
import ray
from mano.cli import local_runtime
from mano.settings import Settings
logging.basicConfig(stream=sys.stderr)
logging.getLogger("actors.runtime").setLevel(logging.INFO)
settings = Settings.from_env()
info = local_runtime.read_info(settings)
ray.init(address=info["ray_address"], namespace="mano", logging_level="ERROR", log_to_driver=False)
# A client that has talked to the plugins (as one attached before) sees ActorUnavailableError
# while Ray restarts them after a crash; a fresh one would have its calls queued instead.
restarting = {"infrastructure-adaptor": "InfrastructureAdaptor", "placement": "PlacementPlugin",
              "placement-executive": "PlacementExecutive", "flm": "FunctionLifecycleManager",
              "slm": "ServiceLifecycleManagerActor", "monitoring": "Monitoring", "smr": "SpecificManagerRegistry",
              "gateway": "Gateway"}
for name in restarting:
    ray.get(ray.get_actor(name).ping.remote(), timeout=60)
# Crash them (the plugin manager Ray does not restart): their worker processes, under the daemon's Ray.
crashed = [p for p in psutil.Process(info["pid"]).children(recursive=True)
           if (p.cmdline() or [""])[0].removeprefix("ray::").split(".")[0] in restarting.values()]
for process in crashed:
    process.send_signal(signal.SIGKILL)
started = time.monotonic()
rt = local_runtime.attach_or_start(settings)
print("RESULT " + json.dumps({"crashed": len(crashed), "attach_s": time.monotonic() - started,
                              "runtime_json": (settings.home / "runtime.json").exists(),
                              "gcs": ray.get_runtime_context().gcs_address,
                              "plugins": sorted(p["name"] for p in rt.call("plugin-manager", "list"))}))
"""


def test_attaching_while_plugins_restart_waits_and_mano_down_still_stops_the_daemon(daemon):
    env = {**daemon["env"], "RAY_AUTH_MODE": "token"}
    out, log = run_python_logged(CLIENT_DURING_RESTARTS, env=env)
    assert out["crashed"] == 8, out
    assert "unavailable (restarting?), asking again" in log, \
        "the plugins were back before the attach asked them: the restart was not exercised"
    print(f"attached during restarts in {out['attach_s']:.1f} s")
    assert out["gcs"] == daemon["info"]["ray_address"]  # the daemon's Ray, not one of its own
    assert out["runtime_json"], "runtime.json was taken for stale"
    assert set(out["plugins"]) <= SINGLETONS | {"gateway"}  # the control plane answers
    listed = mano("ls", "--json", env=daemon["env"])
    assert listed.returncode == 0, listed.stderr[-2000:]
    down = mano("down", env=daemon["env"])
    assert down.returncode == 0, down.stderr[-2000:]
    assert gone_wait(daemon["info"]["pid"]), "mano down left the daemon running"
    assert not (daemon["home"] / "runtime.json").exists()
