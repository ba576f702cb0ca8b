"""The SMR actor with the in-Ray runner, on a local Ray and the embedded store.

One Ray per module (``ray.init(num_cpus=2)``); each test uses fresh service ids, so the
tests share the SMR and its database without seeing each other's SMs.
"""
from __future__ import annotations

import time
import uuid

import pytest
import ray
from polling import wait_until
from sm_helpers import (
    PYTHON_PATH,
    demo_args,
    package_args,
    placement_payload,
    pops_payload,
    sm,
    task_payload,
)

from actors import naming
from actors.smr import SpecificManagerRegistry
from actors.smr_port import RaySpecificManagers
from mano.lifecycle.states import ServiceState
from mano.records import ServiceRecord
from mano.settings import Settings
from mano.sm.config import ContainerConfig, SmrConfig
from mano.lifecycle.sm_port import SmOutcome, SmUpdateError
from mano.store.client import Store

pytestmark = pytest.mark.integration

ATHENS, AVEIRO, GHENT = (p["id"] for p in pops_payload())
FIREWALL_VNFD = {"virtual_deployment_units": [{"id": "vdu01"}]}


SMR_NAME = f"smr-test-{uuid.uuid4().hex[:6]}"  # not "smr": a session runtime may have its own


@pytest.fixture(scope="module")
def ray_cluster():
    if ray.is_initialized():  # a session runtime (tests/runtime) started Ray already: share it
        yield
        return
    ray.init(num_cpus=2, include_dashboard=False, namespace=naming.NAMESPACE, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def smr_settings(mongo_url, tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("smr-home"), mongo_url=mongo_url,
                    mongo_db=f"smr{uuid.uuid4().hex[:8]}", dashboard=False, heartbeat_s=5, step_timeout_s=30)


@pytest.fixture(scope="module")
def db(smr_settings, mongo_url):
    store = Store(mongo_url, database=smr_settings.mongo_db, timeout_ms=5000)
    yield store
    store.close()


@pytest.fixture(scope="module")
def smr(ray_cluster, smr_settings, db):
    config = SmrConfig(python_path=PYTHON_PATH, reconcile_period_s=0, orphan_grace_s=0, containers_enabled=False)
    handle = SpecificManagerRegistry.options(name=SMR_NAME, namespace=naming.NAMESPACE).remote(smr_settings, config)
    assert ray.get(handle.ping.remote(), timeout=60) == naming.SMR
    yield handle
    ray.get(handle.shutdown.remote(), timeout=30)
    ray.kill(handle)


@pytest.fixture(scope="module")
def port(smr, smr_settings) -> RaySpecificManagers:
    return RaySpecificManagers(smr_settings, name=SMR_NAME)


@pytest.fixture
def sid(db) -> str:
    """A fresh service id with a READY service record."""
    service_id = str(uuid.uuid4())
    db.services.insert(ServiceRecord(id=service_id, name="s", nsd={}, vim="emulated", state=ServiceState.READY))
    return service_id


def hosts(service_id: str) -> list[str]:
    prefix = f"sm:{service_id}:"
    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                  if a["namespace"] == naming.NAMESPACE and a["name"].startswith(prefix))


def record(port, service_id: str, sm_id: str) -> dict:
    return next(r for r in port.records(service_id) if r["sm_id"] == sm_id)


def test_examples_onboard_and_every_hook_answers(port, db):
    sids = {name: str(uuid.uuid4()) for name in ("placement-pinning", "task-reorder", "configure-chain",
                                                  "fsm-start-stop", "monitor-scale")}
    for name, service_id in sids.items():
        db.services.insert(ServiceRecord(id=service_id, name=name, nsd={}, vim="emulated", state=ServiceState.READY))
        [rec] = port.onboard(service_id, *package_args(name))
        assert rec["status"] == "INSTANTIATED", rec
        assert hosts(service_id) == [f"sm:{service_id}:{rec['sm_id']}:v1"]

    placement = port.ssm(sids["placement-pinning"], "placement", placement_payload(["vnf_firewall", "vnf_iperf"]))
    assert placement == SmOutcome(used=True, sm_id="pin-by-rule",
                                  result={"vnf_firewall-1": ATHENS, "vnf_iperf-1": GHENT})
    task = port.ssm(sids["task-reorder"], "task", task_payload())
    assert task.used and task.result["schedule"].index("configure_vnfs") < task.result["schedule"].index("start_vnfs")
    configure = port.ssm(sids["configure-chain"], "configure",
                         {"functions": [{"vnf_id": "vnf_iperf"}, {"vnf_id": "vnf_firewall"}]})
    assert configure.used and configure.result["vnf_iperf"]["next_hop"] == "vnf_firewall"
    start = port.fsm(sids["fsm-start-stop"], "vnf_firewall", "start",
                     {"vnf_id": "vnf_firewall", "instance_id": "fw-1", "vnfd": FIREWALL_VNFD})
    assert start.used and start.result["envs"][0]["envs"]["FW_LOG"] == "1"
    monitor = port.ssm(sids["monitor-scale"], "monitor",
                       {"alert": {"name": "cpu", "metric": "vm_cpu_perc", "value": 95, "vnf_id": "vnf_iperf"}})
    assert monitor.used and monitor.result["workflow"] == "scale_out"
    for service_id in sids.values():
        port.terminate(service_id)
        assert hosts(service_id) == []


def test_raising_ssm(port, sid):
    port.onboard(sid, *demo_args([sm("r", "python://faulty_sms:Raising", "placement")]))
    outcome = port.ssm(sid, "placement", placement_payload(["vnf_iperf"]))
    assert outcome == SmOutcome(used=False, sm_id="r", reason="raised KeyError: 'no such pop'")
    assert record(port, sid, "r")["status"] == "INSTANTIATED"
    assert record(port, sid, "r")["error"] == "placement: raised KeyError: 'no such pop'"
    port.terminate(sid)


def test_hanging_ssm_is_killed(port, sid):
    port.onboard(sid, *demo_args([sm("h", "python://faulty_sms:Hanging", "placement", "state")]))
    [name] = hosts(sid)
    started = time.monotonic()
    outcome = port.ssm(sid, "placement", placement_payload(["vnf_iperf"]), timeout=1.0)
    assert time.monotonic() - started < 5
    assert outcome == SmOutcome(used=False, sm_id="h", reason="timeout after 1 s")
    wait_until(lambda: hosts(sid) == [], timeout=10)  # the host actor was killed
    rec = record(port, sid, "h")
    assert rec["status"] == "FAILED" and "no answer within 1 s" in rec["error"]
    assert port.ssm(sid, "state", {}).reason.startswith("absent (h is FAILED")
    port.terminate(sid)


def test_lying_ssm(port, sid):
    port.onboard(sid, *demo_args([sm("l", "python://faulty_sms:Lying", "placement")]))
    outcome = port.ssm(sid, "placement", placement_payload(["vnf_iperf"]))
    assert not outcome.used and outcome.reason.startswith("invalid answer: ") and "unknown PoP" in outcome.reason
    port.terminate(sid)


def test_update_swaps_the_class_without_losing_the_service(port, sid):
    port.onboard(sid, *demo_args([sm("v", "python://faulty_sms:Versioned", "state"),
                                  sm("t", "python://examples.ssm.task:MoveBefore", "task")]))
    assert port.ssm(sid, "state", {}).result["content"]["version"] == "v1"
    updated = port.update(sid, "v", "python://faulty_sms:VersionedTwo")
    assert updated["status"] == "UPDATED" and updated["version"] == "2"
    assert port.ssm(sid, "state", {}).result["content"] == {"version": "v2", "sm_version": "2"}
    wait_until(lambda: hosts(sid) == [f"sm:{sid}:t:v1", f"sm:{sid}:v:v2"], timeout=10)
    with pytest.raises(SmUpdateError):
        port.update(sid, "v", "python://no_such_module:X")
    assert port.ssm(sid, "state", {}).result["content"]["version"] == "v2"
    assert port.ssm(sid, "task", task_payload()).used
    port.terminate(sid)
    assert hosts(sid) == []
    assert {r["status"] for r in port.records(sid)} == {"TERMINATED"}


def test_reconcile_after_crashes(port, smr, sid, db):
    port.onboard(sid, *demo_args([sm("a", "python://faulty_sms:Versioned", "state"),
                                  sm("b", "python://examples.ssm.task:MoveBefore", "task")]))
    ray.kill(ray.get_actor(f"sm:{sid}:a:v1", namespace=naming.NAMESPACE))  # the SM crashes
    wait_until(lambda: f"sm:{sid}:a:v1" not in hosts(sid), timeout=10)
    done = ray.get(smr.reconcile.remote(), timeout=30)
    assert f"{sid}/a" in done["failed"]
    assert port.ssm(sid, "state", {}).reason.startswith("absent (a is FAILED")
    # the service crashes (its record goes FAILED): its SMs are removed by the next pass
    db.services.mutate(sid, lambda s: s.model_copy(update={"state": ServiceState.FAILED}))
    done = ray.get(smr.reconcile.remote(), timeout=30)
    assert sid in done["terminated_services"]
    assert hosts(sid) == []


def test_leaked_host_is_stopped(port, smr, sid):
    from actors.smr import SmHost

    port.onboard(sid, *demo_args([sm("t", "python://examples.ssm.task:MoveBefore", "task")]))
    leaked = SmHost.options(name=f"sm:{sid}:t:v7", namespace=naming.NAMESPACE, lifetime="detached").remote(
        "python://examples.ssm.task:MoveBefore", {"sm_id": "t", "sm_type": "ssm", "service_id": sid}, [])
    ray.get(leaked.ready.remote(), timeout=30)
    done = ray.get(smr.reconcile.remote(), timeout=30)
    assert f"sm:{sid}:t:v7" in done["stopped"]
    wait_until(lambda: hosts(sid) == [f"sm:{sid}:t:v1"], timeout=10)
    port.terminate(sid)


def test_port_without_smr_falls_back(ray_cluster, smr_settings):
    lost = RaySpecificManagers(smr_settings, name="no-such-smr")
    outcome = lost.ssm("x", "task", task_payload(), timeout=0.5)
    assert not outcome.used and outcome.reason.startswith("unavailable: ")


@pytest.mark.docker
def test_container_sm_through_the_smr_actor(ray_cluster, smr_settings, db):
    """The SMR actor builds its container runner on first use, in its own process."""
    docker = pytest.importorskip("docker")
    from mano.messaging.testing import delete_exchanges
    from mano.sm.image import ImageBuildError, ensure_sm_image

    try:
        client = docker.from_env(timeout=120)
        image = ensure_sm_image(client)
    except (ImageBuildError, docker.errors.DockerException) as exc:
        pytest.skip(f"no SM image: {exc}")
    exchange = f"mano-test-smr-{uuid.uuid4().hex[:8]}"
    config = SmrConfig(python_path=PYTHON_PATH, reconcile_period_s=0, orphan_grace_s=0, exchange=exchange,
                       container=ContainerConfig(gate_port=0))
    handle = SpecificManagerRegistry.options(name=f"{SMR_NAME}-docker", namespace=naming.NAMESPACE).remote(
        smr_settings, config)
    port = RaySpecificManagers(smr_settings, name=f"{SMR_NAME}-docker")
    service_id = f"ctest-{uuid.uuid4()}"
    db.services.insert(ServiceRecord(id=service_id, name="s", nsd={}, vim="emulated", state=ServiceState.READY))
    try:
        [rec] = port.onboard(service_id, *demo_args([sm("pin", image, "placement", rules="vnf_*=Aveiro",
                                                        **{"class": "examples.ssm.placement:PinByRule"})]))
        assert rec["status"] == "INSTANTIATED", rec
        outcome = port.ssm(service_id, "placement", placement_payload(["vnf_iperf"]))
        assert outcome.used and outcome.result == {"vnf_iperf-1": AVEIRO}
        port.terminate(service_id)
        assert client.containers.list(all=True, filters={"label": f"mano.service={service_id}"}) == []
    finally:
        ray.get(handle.shutdown.remote(), timeout=30)
        ray.kill(handle)
        delete_exchanges(smr_settings.broker_url, exchange)
