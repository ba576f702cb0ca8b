"""Fixtures of the Docker VIM tests: a running dockerd, the stand-in image, and isolation.

dockerd: used if it answers; otherwise, when the ``dockerd`` binary is installed and the
tests run as root, it is started in the background (``dockerd > <tmp>/dockerd.log``) and left
running for later sessions. Only if that fails are the tests skipped, with the reason.

Isolation: every id the tests make starts with ``SESSION_TAG`` (``mt<hex>``), and drivers use
that tag as their label prefix unless a test checks the real ``mano.*`` labels; those tests use
PoP and service ids that start with the tag. After each test (and once more at the end of the
session) everything carrying the tag is force-removed, so nothing leaks into dockerd and a
concurrent real mano on the same dockerd is never touched.
"""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker", reason="the docker SDK (pip install docker) is not installed")

from mano.lifecycle.vim_port import Network, Pop, UnitRequest, VnfDeployment
from mano.vim.docker import DRIVER_ID, DockerVim
from mano.vim.images import BUSYBOX_TAG, ensure_busybox_image

SESSION_TAG = f"mt{uuid.uuid4().hex[:8]}"
DOCKERD_START_TIMEOUT_S = 60


def _ping() -> tuple[Any | None, str]:
    try:
        client = docker.from_env(timeout=30)
        client.ping()
        return client, ""
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return None, str(exc)


def _start_dockerd() -> tuple[Any | None, str]:
    """Connect to dockerd, starting it in the background if needed; (client, why not)."""
    client, error = _ping()
    if client is not None:
        return client, ""
    binary = shutil.which("dockerd")
    if binary is None:
        return None, (f"dockerd is not reachable ({error}) and not installed "
                      "(apt-get install -y docker.io; dockerd > /tmp/dockerd.log 2>&1 &)")
    if os.geteuid() != 0:
        return None, f"dockerd is not reachable ({error}) and only root may start it"
    log_path = Path(tempfile.gettempdir()) / "dockerd.log"
    with open(log_path, "ab") as log_file:
        subprocess.Popen([binary], stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + DOCKERD_START_TIMEOUT_S
    while time.monotonic() < deadline:
        client, error = _ping()
        if client is not None:
            return client, ""
        time.sleep(0.5)
    return None, f"started {binary} but it did not answer within {DOCKERD_START_TIMEOUT_S} s ({error}); see {log_path}"


def _is_ours(labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    if labels.get(f"{SESSION_TAG}.driver") == DRIVER_ID:
        return True
    return labels.get("mano.driver") == DRIVER_ID and any(
        labels.get(f"mano.{key}", "").startswith(SESSION_TAG) for key in ("service", "pop"))


def remove_session_objects(client: Any) -> list[str]:
    """Force-remove every container and network this session made; returns their names."""
    removed = []
    for container in client.api.containers(all=True):
        if _is_ours(container.get("Labels")) or any(SESSION_TAG in n for n in container.get("Names") or []):
            client.api.remove_container(container["Id"], force=True, v=True)
            removed.append(container["Names"][0])
    for network in client.api.networks():
        if _is_ours(network.get("Labels")) or network["Name"].startswith(SESSION_TAG):
            for attached in client.api.inspect_network(network["Id"]).get("Containers") or {}:
                client.api.disconnect_container_from_network(attached, network["Id"], force=True)
            client.api.remove_network(network["Id"])
            removed.append(network["Name"])
    return removed


@pytest.fixture(scope="session")
def docker_client():
    client, reason = _start_dockerd()
    if client is None:
        pytest.skip(f"no dockerd: {reason}")
    try:
        yield client
    finally:
        remove_session_objects(client)
        client.close()


@pytest.fixture(scope="session")
def busybox_image(docker_client) -> str:
    return ensure_busybox_image(docker_client, BUSYBOX_TAG)


@pytest.fixture
def pops() -> list[Pop]:
    """Two PoPs: a roomy one and a small one (2 cores, 4 GB) for capacity tests."""
    return [Pop(vim_uuid=f"{SESSION_TAG}-pop-a", name="PoP A", core_total=32, memory_total=64),
            Pop(vim_uuid=f"{SESSION_TAG}-pop-b", name="PoP B", core_total=2, memory_total=4)]


@pytest.fixture
def make_vim(docker_client, busybox_image, pops) -> Callable[..., DockerVim]:
    """Build DockerVims on the session's dockerd (label prefix = the session tag unless given)."""
    drivers: list[DockerVim] = []

    def factory(pop_list: list[Pop] | None = None, **options: Any) -> DockerVim:
        options.setdefault("label_prefix", SESSION_TAG)
        driver = DockerVim(pop_list or pops, client=docker_client, **options)
        drivers.append(driver)
        return driver

    yield factory
    for driver in drivers:
        driver.close()
    remove_session_objects(docker_client)


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Ids that start with the session tag: ``new_id("s")`` -> ``mt1a2b3c4d-s-1f2e...``."""
    counter = itertools.count()
    return lambda kind="x": f"{SESSION_TAG}-{kind}{next(counter)}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def one_unit_vnf(pops, new_id) -> Callable[..., VnfDeployment]:
    """A one-unit VNF deployment (vdu01 with one point ``vdu01:eth0``), joined to ``network`` if given."""

    def build(service_id: str, network: Network | None = None, *, pop: str | None = None, vcpus: float = 1,
              memory_gb: float = 1, image: str = "vm.qcow", vnf_id: str | None = None) -> VnfDeployment:
        unit = UnitRequest(id="vdu01", image=image, vcpus=vcpus, memory_gb=memory_gb,
                           connection_points=("vdu01:eth0",))
        return VnfDeployment(service_id=service_id, vnf_instance_id=vnf_id or new_id("v"), vnf_name="probe",
                             pop=pop or pops[0].vim_uuid, units=(unit,),
                             networks={"vdu01:eth0": network.id} if network else {})

    return build


@pytest.fixture
def session_tag() -> str:
    return SESSION_TAG
