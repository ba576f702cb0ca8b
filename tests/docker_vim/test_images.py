"""The busybox stand-in image, image maps and the pure helpers of the Docker VIM."""
from __future__ import annotations

import io
import sys
import tarfile

import pytest

from mano.errors import VimError
from mano.vim import images
from mano.vim.docker import container_metrics

pytestmark = [pytest.mark.docker, pytest.mark.integration]


class CountingClient:
    """A docker client proxy that counts the API calls ensure_busybox_image makes."""

    def __init__(self, client):
        self._client = client
        self.calls: list[str] = []
        self.api = _Counting(client.api, self.calls, "api")
        self.images = _Counting(client.images, self.calls, "images")


class _Counting:
    def __init__(self, target, calls, prefix):
        self._target, self._calls, self._prefix = target, calls, prefix

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        def call(*args, **kwargs):
            self._calls.append(f"{self._prefix}.{name}")
            return attribute(*args, **kwargs)
        return call


def test_ensure_busybox_image_builds_once_then_is_a_no_op(docker_client, session_tag):
    tag = f"{session_tag}/busybox:test"
    client = CountingClient(docker_client)
    try:
        assert images.ensure_busybox_image(client, tag) == tag
        assert "api.import_image_from_data" in client.calls
        client.calls.clear()
        assert images.ensure_busybox_image(client, tag) == tag
        assert client.calls == []
        config = docker_client.api.inspect_image(tag)["Config"]
        assert config["Cmd"] == ["/bin/sleep", "infinity"]
        assert config["Labels"] == {"mano.image": "busybox"}
        output = docker_client.containers.run(tag, ["sh", "-c", "ping -c1 127.0.0.1 >/dev/null && ip link && cat /etc/passwd"],
                                              remove=True)
        assert b"lo" in output and b"root:x:0:0" in output
    finally:
        docker_client.images.remove(tag, force=True)


def test_resolve_image_by_full_string_then_basename_then_default():
    mapping = {"http://registry.sonata-nfv.eu/fw.qcow": "fw:1", "tcpdump.qcow": "tcpdump:2"}
    assert images.resolve_image("http://registry.sonata-nfv.eu/fw.qcow", mapping, "d") == "fw:1"
    assert images.resolve_image("http://elsewhere.example/vm/tcpdump.qcow", mapping, "d") == "tcpdump:2"
    assert images.resolve_image("unknown.qcow", mapping, "d") == "d"
    assert images.resolve_image("", mapping, "d") == "d"


def test_static_elf_detection(tmp_path):
    assert not images.is_static_elf(sys.executable)  # CPython links the C library dynamically
    assert not images.is_static_elf(str(tmp_path / "missing"))
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert not images.is_static_elf(str(tmp_path / "script"))


def test_no_static_busybox_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "busybox").write_text("#!/bin/sh\n")
    monkeypatch.setattr(images, "BUSYBOX_CANDIDATES", (str(tmp_path / "busybox"),))
    with pytest.raises(VimError, match="apt-get install -y busybox-static"):
        images.find_static_busybox(install=False)


def test_rootfs_tarball_holds_busybox_and_applet_links(tmp_path):
    fake = tmp_path / "busybox"
    fake.write_bytes(b"\x7fELF fake")
    with tarfile.open(fileobj=io.BytesIO(images.build_rootfs_tarball(str(fake)))) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/busybox"].size == len(b"\x7fELF fake") and members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"  # fallback list
    assert members["tmp"].mode == 0o1777 and "etc/passwd" in members


def test_container_metrics_follow_docker_stats():
    sample = {"cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
              "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
              "memory_stats": {"usage": 60 * 2 ** 20, "limit": 100 * 2 ** 20,
                               "stats": {"inactive_file": 10 * 2 ** 20}},
              "networks": {"eth0": {"rx_bytes": 2 ** 20, "tx_bytes": 0}, "eth1": {"rx_bytes": 2 ** 20, "tx_bytes": 2 ** 19}}}
    metrics = container_metrics(sample, nano_cpus=int(0.5e9))
    assert metrics == {"vm_cpu_perc": pytest.approx(80.0), "vm_mem_perc": pytest.approx(50.0),
                       "vm_net_rx_MB": 2.0, "vm_net_tx_MB": 0.5}
    assert container_metrics({}, 0) == {"vm_cpu_perc": 0.0, "vm_mem_perc": 0.0, "vm_net_rx_MB": 0.0,
                                        "vm_net_tx_MB": 0.0}
