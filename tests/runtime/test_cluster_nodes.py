"""mano on two Ray nodes (issue 16): the control plane on the head, instances spread over both
nodes, and a worker node lost with services on it survived.

Real Ray and real processes throughout: a head of the test's own (``ray_cluster.RayHead``: token
auth, its own ports and ``RAY_TMPDIR``) and a worker node on 127.0.0.2 (another node for Ray;
traffic stays on this machine); a ``mano up --address`` daemon whose embedded store is bound
(``MANO_STORE_BIND``) so that both nodes use it; clients in fresh interpreters through the CLI's
own attach (``mano.cli.local_runtime.attach_or_start``), as ``mano terminate`` does.

The module's services are instantiated once; the last test kills the worker node under them.
"""
from __future__ import annotations

import time

import pytest

import mano_daemon
from mano_daemon import gone_wait, mano, mano_env
from paths import EXAMPLES
from ray_cluster import run_python, two_nodes

pytestmark = pytest.mark.integration

SINGLETONS = {"plugin-manager", "infrastructure-adaptor", "placement", "placement-executive", "flm", "slm",
              "monitoring", "smr"}
WORKER_IP = "127.0.0.2"
SERVICES = 4


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with two_nodes(WORKER_IP, tmp_path_factory.mktemp("worker-home")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def daemon(cluster, tmp_path_factory):
    """``mano up --address`` on the cluster, started on the head's machine like an operator would.

    Every service gets an actor of its own (``MANO_BURST_IN_SLM=0``: none runs in the SLM) that
    stays up (no passivation), so that some of them live on the worker node."""
    head, _ = cluster
    home = tmp_path_factory.mktemp("daemon-home")
    env = mano_env(head.client_env(), home, MANO_STORE_BIND="127.0.0.1", MANO_BURST_IN_SLM="0",
                   MANO_IDLE_PASSIVATE_S="3600")
    with mano_daemon.daemon("--address", head.address, env=env, timeout=240) as running:
        yield running


INSTANTIATE = r"""
import json, sys
import mano
from mano.cli import local_runtime
from mano.settings import Settings
rt = local_runtime.attach_or_start(Settings.from_env())
services = [mano.instantiate(sys.argv[1]) for _ in range(int(sys.argv[2]))]
out = [{"id": s.id, "status": s.status, "vnfs": [v.id for v in s.record.vnf_instances],
        # the actors that are their activations: pre-started hosts or their own actors
        "actors": [rt.call("slm", "activation_of", s.id)]
                  + [rt.call("flm", "activation_of", v.id) for v in s.record.vnf_instances]} for s in services]
out = {"services": out, "cores_used": sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))}
local_runtime.release(rt)
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def services(daemon) -> dict:
    return run_python(INSTANTIATE, str(EXAMPLES / "sonata-demo"), str(SERVICES), env=daemon["env"])


def instance_actors(service: dict) -> list[str]:
    return [name for name in service["actors"] if name]


def test_the_control_plane_runs_on_the_head_and_the_instances_on_every_node(cluster, services):
    head, _ = cluster
    assert [s["status"] for s in services["services"]] == ["READY"] * SERVICES
    where = head.placement()
    assert len(where["nodes"]) == 2
    worker = next(node for node in where["nodes"] if node != where["head"])
    plugins = {name: node for name, node in where["actors"].items() if ":" not in name and "-host-" not in name}
    assert set(plugins) == SINGLETONS  # under their names, as the dashboard shows them
    assert set(plugins.values()) == {where["head"]}, plugins
    instances = {name: node for name, node in where["actors"].items() if ":" in name or "-host-" in name}
    for service in services["services"]:
        assert service["actors"][0] in instances  # its activation, by its name (a host or service:<id>)
    assert set(instances.values()) == {where["head"], worker}, instances
    print(f"instance actors: {sum(n == worker for n in instances.values())} on the worker, "
          f"{sum(n == where['head'] for n in instances.values())} on the head")


TERMINATE = r"""
import json, sys, threading, time
import mano
from mano.cli import local_runtime
from mano.settings import Settings
killed_at = float(sys.argv[1])
ids = sys.argv[2].split(",")
settings = Settings.from_env()
rt = local_runtime.attach_or_start(settings)
attached_s = time.time() - killed_at
answered, errors = {}, {}

def terminate(service_id):
    try:
        mano.get(service_id).terminate(timeout=300)
        answered[service_id] = time.time() - killed_at
    except Exception as exc:
        errors[service_id] = f"{type(exc).__name__}: {exc}"

threads = [threading.Thread(target=terminate, args=(i,)) for i in ids]
for t in threads: t.start()
for t in threads: t.join()
store = rt.store
out = {"attached_s": attached_s, "answered_s": answered, "errors": errors,
       "runtime_json": (settings.home / "runtime.json").exists(),
       "finished_s": {i: o.finished_at.timestamp() - killed_at for i in ids
                      for o in store.operations.find({"service_id": i, "type": "terminate"}) if o.finished_at},
       "services": {i: store.services.get(i).state.value for i in ids},
       "operations": {i: sorted((o.type.value, o.state.value) for o in store.operations.find({"service_id": i}))
                      for i in ids},
       "vnfrs": {i: sorted(v.vnf_state.value for v in store.vnfr.find({"service_id": i})) for i in ids},
       "vim": {i: [rt.call("infrastructure-adaptor", "vnf_status", "emulated", v.id)
                   for v in store.vnfr.find({"service_id": i})] for i in ids},
       "cores_used": sum(p.core_used for p in rt.call("infrastructure-adaptor", "list_pops", "emulated"))}
local_runtime.release(rt)
print("RESULT " + json.dumps(out))
"""


def test_a_lost_worker_node_is_survived_every_service_terminates_and_the_records_match_the_vim(
        cluster, daemon, services):
    head, worker = cluster
    before = head.placement()
    worker_node = next(node for node in before["nodes"] if node != before["head"])
    on_worker = [name for s in services["services"] for name in instance_actors(s)
                 if before["actors"].get(name) == worker_node]
    assert on_worker, f"no instance actor of the services on the worker node: {before['actors']}"
    assert services["cores_used"] > 0
    killed_at = head.kill_worker(worker, WORKER_IP)

    ids = [s["id"] for s in services["services"]]
    out = run_python(TERMINATE, repr(killed_at), ",".join(ids), env=daemon["env"], timeout=600)
    print(f"node lost: {len(on_worker)} instance actors on it; attached {out['attached_s']:.1f} s after the loss; "
          f"terminated {', '.join(f'{t:.1f}' for t in sorted(out['answered_s'].values()))} s after it")
    for service in services["services"]:  # what each service lost, and how long it took to answer
        lost = [name.split(":")[0].rsplit("-", 1)[0] for name in instance_actors(service) if name in on_worker]
        print(f"  {service['id'][:8]}: lost {lost or 'nothing'}, answered {out['answered_s'].get(service['id']):.1f} s, "
              f"its terminate finished {out['finished_s'].get(service['id'], float('nan')):.1f} s after the loss")
    assert out["errors"] == {}, out["errors"]
    assert out["runtime_json"], "runtime.json was taken for stale"
    assert out["services"] == {i: "TERMINATED" for i in ids}
    for i in ids:  # one instantiate and one terminate each, both done: nothing run twice, nothing lost
        assert out["operations"][i] == [["instantiate", "COMPLETED"], ["terminate", "COMPLETED"]], out["operations"][i]
        assert out["vnfrs"][i] == ["TERMINATED"] * 3, out["vnfrs"][i]
        assert out["vim"][i] == ["absent"] * 3, out["vim"][i]  # the VIM has none of them left
    assert out["cores_used"] == 0

    # The terminates may all have answered before Ray declared the node dead (12-14 s after the
    # loss here): wait for that, then nothing of mano's may be placed on it
    deadline = time.monotonic() + 90
    while (after := head.placement())["nodes"] != [after["head"]] and time.monotonic() < deadline:
        time.sleep(1.0)
    assert after["nodes"] == [after["head"]]
    assert set(after["actors"].values()) == {after["head"]}
    listed = mano("ls", "--json", env=daemon["env"], timeout=240)  # later commands still find the daemon
    assert listed.returncode == 0, listed.stderr[-2000:]
    down = mano("down", env=daemon["env"], timeout=240)
    assert down.returncode == 0, down.stderr[-2000:]
    assert gone_wait(daemon["info"]["pid"], timeout=30), "mano down left the daemon running"
    assert head.look()["mano"] == []
