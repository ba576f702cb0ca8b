"""One store for the cluster (issue 16): the control plane resolves one store URL and every actor
on every node uses it; an actor never starts an embedded store of its own, and a loopback store
is refused on a node it is not on, instead of splitting the records.

Real Ray and real servers: an embedded runtime in a fresh interpreter, and a head of the test's
own (ports 6500-6599, token auth) with a worker node on 127.0.0.2 whose environment has a
MANO_HOME of its own. All traffic stays on this machine.
"""
from __future__ import annotations

import os

import psutil
import pytest

from ray_cluster import RayHead, run_python

pytestmark = pytest.mark.integration

SINGLETONS = ["plugin-manager", "infrastructure-adaptor", "placement", "placement-executive", "flm", "slm",
              "monitoring", "smr"]


def clean_env(base: dict[str, str], home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("MANO_")}
    env.update({"MANO_HOME": str(home), "MANO_DASHBOARD": "0", "MANO_MONITORING_PERIOD_S": "0",
                "MANO_SPARE_SERVICE_ACTORS": "0", "MANO_SPARE_VNF_ACTORS": "0"})
    env.update(extra)
    return env


def store_servers_of(home) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if "nx_27017" in cmdline and str(home) in cmdline:
            found.append(p)
    return found


EMBEDDED = r"""
import json, sys
import mano
from actors import runtime
rt = mano.init()
names = sys.argv[1].split(",")
out = {"store": rt.store.url, "settings_url": rt.settings.mongo_url, "node": getattr(rt.settings, "store_node", None)}
out["actors"] = {name: runtime.call(name, "store_info") for name in names if not name.startswith("placement")} \
    if out["settings_url"] else {}  # (placement: no store there)
mano.shutdown()
print("RESULT " + json.dumps(out))
"""


def test_every_actor_of_an_embedded_runtime_uses_the_control_planes_store(tmp_path) -> None:
    home = tmp_path / "home"
    out = run_python(EMBEDDED, ",".join(SINGLETONS), env=clean_env(os.environ, home))
    assert out["store"].startswith("mongodb://127.0.0.1:") and out["settings_url"] == out["store"]
    assert out["node"]  # a loopback store is tied to its node
    for name, info in out["actors"].items():
        assert info == {"url": out["store"], "embedded": False, "store_node": out["node"]}, name  # none attached a store of its own
    assert not store_servers_of(home)  # the owner (the driver) stopped it at shutdown


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    head = RayHead(ports=range(6500, 6600)).start()
    worker_home = tmp_path_factory.mktemp("worker-home")
    try:
        head.add_worker("127.0.0.2", MANO_HOME=str(worker_home))
        yield head, worker_home
    finally:
        head.stop()


ON_WORKER = r"""
import json, sys
import ray
import mano
from mano.errors import StoreError
from mano.settings import Settings

rt = mano.init()
settings = rt.settings

@ray.remote(resources={"mano_test_worker": 1}, num_cpus=0)
def on_worker(settings, unpublished_home):
    from mano.store.client import connect
    from pathlib import Path
    from mano.settings import Settings
    node = ray.get_runtime_context().get_node_id()
    out = {"node": node}
    try:
        store = connect(settings, stop_embedded_on_exit=False)
        store._client[settings.mongo_db]["probe"].insert_one({"from": node})
        out["connected"] = store.url
        store.close()
    except StoreError as exc:
        out["refused"] = str(exc)
    try:  # settings without the control plane's URL: never a store of this node's own
        connect(Settings(home=Path(unpublished_home)), stop_embedded_on_exit=False)
        out["unpublished"] = "connected"
    except StoreError as exc:
        out["unpublished"] = str(exc)
    return out

out = ray.get(on_worker.remote(settings, sys.argv[1]), timeout=120)
out["store"] = rt.store.url
out["store_node"] = getattr(settings, "store_node", None)
try:
    out["slm"] = rt.call("slm", "store_info")
except AttributeError as exc:
    out["slm"] = str(exc)
out["probes"] = [d["from"] for d in rt.store._client[settings.mongo_db]["probe"].find()]
mano.shutdown()
print("RESULT " + json.dumps(out))
"""


def test_a_loopback_store_is_refused_on_another_node(cluster, tmp_path) -> None:
    head, worker_home = cluster
    env = clean_env(head.client_env(), tmp_path / "home", MANO_RAY_ADDRESS=head.address)
    out = run_python(ON_WORKER, str(worker_home), env=env)
    assert out["store"].startswith("mongodb://127.0.0.1:") and out["store_node"] != out["node"]
    assert "loopback address of Ray node" in out["refused"] and "MANO_STORE_BIND" in out["refused"]
    assert "never start or attach to an embedded store" in out["unpublished"]
    assert out["probes"] == []
    assert out["slm"] == {"url": out["store"], "embedded": False, "store_node": out["store_node"]}
    assert not (worker_home / "store").exists() and not store_servers_of(worker_home)


def test_a_bound_store_is_the_one_store_of_every_node(cluster, tmp_path) -> None:
    head, worker_home = cluster
    env = clean_env(head.client_env(), tmp_path / "home", MANO_RAY_ADDRESS=head.address,
                    MANO_STORE_BIND="127.0.0.2")
    out = run_python(ON_WORKER, str(worker_home), env=env)
    assert out["store"].startswith("mongodb://127.0.0.2:") and out["store_node"] is None
    assert out["slm"] == {"url": out["store"], "embedded": False, "store_node": None}
    assert out["connected"] == out["store"]  # the worker node used the control plane's store
    assert out["probes"] == [out["node"]]  # and its record landed in it
    assert not (worker_home / "store").exists() and not store_servers_of(worker_home)
