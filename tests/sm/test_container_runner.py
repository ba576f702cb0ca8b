"""The container runner against the real dockerd and RabbitMQ.

The SM image is built locally on first use (``mano.sm.image``: debootstrap + docker import,
about 80 s once; then cached by tag). The registry core runs in process here; the SMs run in
containers and answer over AMQP on their SONATA topics, through the SMR's AMQP gate.
"""
from __future__ import annotations

import json
import uuid

import pytest
from polling import wait_until
from sm_helpers import PYTHON_PATH, demo_args, placement_payload, pops_payload, sm, task_payload

from mano.lifecycle.states import ServiceState
from mano.records import ServiceRecord
from mano.sm.config import ContainerConfig, SmrConfig
from mano.sm.discovery import RunnerKind
from mano.sm.local import LocalSpecificManagers
from mano.sm.runner import SmLaunch

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ATHENS, AVEIRO, GHENT = (p["id"] for p in pops_payload())
FIREWALL_VNFD = {"virtual_deployment_units": [{"id": "vdu01"}]}


@pytest.fixture(scope="module")
def docker_client():
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"dockerd is not reachable: {exc}")
    return client


@pytest.fixture(scope="module")
def sm_image(docker_client) -> str:
    from mano.sm.image import ImageBuildError, ensure_sm_image

    try:
        return ensure_sm_image(docker_client)
    except ImageBuildError as exc:
        pytest.skip(f"the SM image cannot be built here: {exc}")


@pytest.fixture(scope="module")
def task_image(docker_client, sm_image) -> str:
    """The SM image with a different default class (CMD): what an SM developer would ship."""
    import io

    tag = sm_image.replace("mano/sm-python:", "mano/sm-python-task:")
    dockerfile = f'FROM {sm_image}\nCMD ["examples.ssm.task:MoveBefore"]\n'.encode()
    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, pull=False)
    return tag


@pytest.fixture(scope="module")
def broker(docker_client) -> str:
    from mano.errors import BrokerUnavailableError
    from mano.messaging.testing import ensure_broker
    from mano.settings import DEFAULT_BROKER_URL

    try:
        ensure_broker(DEFAULT_BROKER_URL, timeout=60)
    except BrokerUnavailableError as exc:
        pytest.skip(f"RabbitMQ is needed: {exc}")
    return DEFAULT_BROKER_URL


@pytest.fixture(scope="module")
def exchange(broker):
    from mano.messaging.testing import delete_exchanges

    name = f"mano-test-sm-{uuid.uuid4().hex[:8]}"
    yield name
    delete_exchanges(broker, name)


@pytest.fixture(scope="module")
def runner(broker, exchange, docker_client):
    from mano.sm.container import ContainerRunner

    config = SmrConfig(broker_url=broker, exchange=exchange, python_path=PYTHON_PATH, orphan_grace_s=0,
                       container=ContainerConfig(start_timeout_s=60, gate_port=0))
    runner = ContainerRunner(config, client=docker_client)
    yield runner
    for instance in runner.running():
        if instance.service_id.startswith("ctest-"):
            runner.stop_instance(instance)
    runner.close()


@pytest.fixture
def port(store, runner):
    config = SmrConfig(broker_url=runner._config.broker_url, exchange=runner._config.exchange,
                       python_path=PYTHON_PATH, orphan_grace_s=0)
    return LocalSpecificManagers(store, config, runners={RunnerKind.CONTAINER: runner})


@pytest.fixture
def sid(store) -> str:
    service_id = f"ctest-{uuid.uuid4()}"
    store.services.insert(ServiceRecord(id=service_id, name="s", nsd={}, vim="emulated", state=ServiceState.READY))
    return service_id


def container_of(runner, port, service_id: str, sm_id: str):
    from mano.records import SpecificManagerRecord

    record = SpecificManagerRecord.model_validate(next(r for r in port.records(service_id) if r["sm_id"] == sm_id))
    return runner.container(SmLaunch.of(record))


def test_round_trip_ssm_and_fsm(port, runner, sid, sm_image, docker_client):
    ssms = [sm("pin", sm_image, "placement", rules="vnf_firewall=Athens, vnf_*=Ghent",
               **{"class": "examples.ssm.placement:PinByRule"})]
    fsms = {"vnf_firewall": [sm("env", sm_image, "start", "stop", env="FW_LOG=1",
                                **{"class": "examples.ssm.fsm:EnvStartStop"})]}
    records = {r["sm_id"]: r for r in port.onboard(sid, *demo_args(ssms, fsms))}
    assert {k: r["status"] for k, r in records.items()} == {"pin": "INSTANTIATED", "vnf_firewall/env": "INSTANTIATED"}

    placement = port.ssm(sid, "placement", placement_payload(["vnf_firewall", "vnf_iperf"]))
    assert placement.used and placement.result == {"vnf_firewall-1": ATHENS, "vnf_iperf-1": GHENT}
    start = port.fsm(sid, "vnf_firewall", "start", {"vnf_id": "vnf_firewall", "instance_id": "fw-1",
                                                   "vnfd": FIREWALL_VNFD})
    assert start.used and start.result["envs"][0]["envs"]["FW_LOG"] == "1"
    assert port.ssm(sid, "task", task_payload()).reason == "absent"

    container = container_of(runner, port, sid, "pin")
    host = container.attrs["HostConfig"]
    assert container.labels["mano.service"] == sid and container.labels["mano.sm"] == "pin"
    assert host["Privileged"] is False and host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["NanoCpus"] == 500_000_000 and host["Memory"] == 128 * 1024 * 1024 and host["PidsLimit"] == 64
    assert container.attrs["Config"]["User"] == "65534:65534"
    assert container.attrs["Mounts"] == [] and not host.get("Binds")
    users = {c.labels["mano.sm.user"] for c in (container, container_of(runner, port, sid, "vnf_firewall/env"))}

    port.terminate(sid)
    assert runner.running() == [] or all(i.service_id != sid for i in runner.running())
    assert docker_client.containers.list(all=True, filters={"label": f"mano.service={sid}"}) == []
    assert not users & set(runner._admin_client().users())  # the broker users are gone too


SECURITY_PROBE = r"""
import json, os, socket, urllib.parse
import pika, pika.exceptions

result = {"docker_sock": any(os.path.exists(p) for p in ("/var/run/docker.sock", "/run/docker.sock")),
          "uid": os.getuid()}
url = os.environ["MANO_SM_BROKER_URL"]
exchange = os.environ["MANO_SM_EXCHANGE"]
other = os.environ["PROBE_OTHER_TOPIC"]
queue = os.environ["MANO_SM_QUEUE"] + ".probe"

def attempt(name, action):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        action(channel)
        result[name] = "allowed"
    except pika.exceptions.AMQPError as exc:
        result[name] = "refused" if "ACCESS_REFUSED" in str(exc) or "403" in str(exc) else repr(exc)[:200]
    finally:
        try:
            connection.close()
        except Exception:
            pass

def bind(key):
    def action(channel):
        channel.queue_declare(queue, exclusive=True, auto_delete=True)
        channel.queue_bind(queue, exchange, routing_key=key)
    return action

attempt("publish_own", lambda ch: ch.basic_publish(exchange, os.environ["MANO_SM_TOPIC"], b"{}"))
attempt("publish_other", lambda ch: ch.basic_publish(exchange, other, b"{}"))
attempt("bind_other", bind(other))
attempt("bind_wildcard", bind("#"))
attempt("declare_exchange", lambda ch: ch.exchange_declare(exchange, exchange_type="topic"))
attempt("publish_default_exchange", lambda ch: ch.basic_publish("", "some-queue", b"{}"))
parsed = urllib.parse.urlparse(url)
try:
    pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@{parsed.hostname}:{parsed.port}/%2F"))
    result["guest_via_gate"] = "allowed"
except pika.exceptions.AMQPError:
    result["guest_via_gate"] = "refused"
try:
    socket.create_connection((parsed.hostname, 15672), timeout=1.5).close()
    result["host_port_15672"] = "reachable"
except OSError:
    result["host_port_15672"] = "unreachable"
print(json.dumps(result))
"""


def test_container_cannot_reach_docker_or_other_services(port, runner, sid, sm_image, store):
    other = f"ctest-{uuid.uuid4()}"
    store.services.insert(ServiceRecord(id=other, name="o", nsd={}, vim="emulated", state=ServiceState.READY))
    ssm = [sm("pin", sm_image, "placement", **{"class": "examples.ssm.placement:PinByRule"})]
    port.onboard(sid, *demo_args(ssm))
    port.onboard(other, *demo_args(ssm))
    container = container_of(runner, port, sid, "pin")
    code, output = container.exec_run(["python3", "-c", SECURITY_PROBE],
                                      environment={"PROBE_OTHER_TOPIC": f"generic.ssm.{other}"})
    assert code == 0, output.decode()
    result = json.loads(output.decode().strip().splitlines()[-1])
    assert result["docker_sock"] is False and result["uid"] == 65534
    assert result["publish_own"] == "allowed"
    for refused in ("publish_other", "bind_other", "bind_wildcard", "declare_exchange",
                    "publish_default_exchange", "guest_via_gate"):
        assert result[refused] == "refused", (refused, result)
    if runner._firewall_rule is not None:
        assert result["host_port_15672"] == "unreachable"
    # the other service's SM still answers: nothing the probe did reached it
    assert port.ssm(other, "placement", placement_payload(["vnf_iperf"])).used
    port.terminate(sid)
    port.terminate(other)


def test_update_swaps_the_container(port, runner, sid, sm_image, task_image, docker_client):
    ssm = [sm("t", sm_image, "task", move="configure_vnfs<start_vnfs", **{"class": "examples.ssm.task:MoveBefore"})]
    port.onboard(sid, *demo_args(ssm))
    old = container_of(runner, port, sid, "t")
    updated = port.update(sid, "t", task_image)
    assert updated["status"] == "UPDATED" and updated["version"] == "2" and updated["image"] == task_image
    new = container_of(runner, port, sid, "t")
    assert new.name.endswith("-v2") and new.image.tags == [task_image]
    assert docker_client.containers.list(all=True, filters={"name": old.name}) == []
    outcome = port.ssm(sid, "task", task_payload())
    assert outcome.used and outcome.result["schedule"].index("configure_vnfs") < outcome.result["schedule"].index(
        "start_vnfs")
    port.terminate(sid)


def test_a_container_that_cannot_load_its_class_fails(port, sid, sm_image, docker_client):
    [record] = port.onboard(sid, *demo_args([sm("bad", sm_image, "task", **{"class": "no_such_module:X"})]))
    assert record["status"] == "FAILED"
    assert "container exited with code 2" in record["error"] and "cannot import no_such_module" in record["error"]
    assert docker_client.containers.list(all=True, filters={"label": f"mano.service={sid}"}) == []


def test_crash_of_the_service_removes_its_containers(port, runner, sid, sm_image, store, docker_client):
    port.onboard(sid, *demo_args([sm("pin", sm_image, "placement", **{"class": "examples.ssm.placement:PinByRule"})]))
    store.services.mutate(sid, lambda s: s.model_copy(update={"state": ServiceState.FAILED}))
    assert sid in port.reconcile()["terminated_services"]
    assert docker_client.containers.list(all=True, filters={"label": f"mano.service={sid}"}) == []


def test_a_crashed_container_is_marked_failed(port, runner, sid, sm_image):
    port.onboard(sid, *demo_args([sm("pin", sm_image, "placement", **{"class": "examples.ssm.placement:PinByRule"})]))
    container_of(runner, port, sid, "pin").kill()
    wait_until(lambda: container_of(runner, port, sid, "pin").status != "running" if
               container_of(runner, port, sid, "pin").reload() is None else False, timeout=20)
    assert f"{sid}/pin" in port.reconcile()["failed"]
    outcome = port.ssm(sid, "placement", placement_payload(["vnf_iperf"]))
    assert outcome.reason.startswith("absent (pin is FAILED")
    port.terminate(sid)
