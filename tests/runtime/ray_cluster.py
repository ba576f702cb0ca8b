"""A Ray cluster of a test's own: ``ray start --head`` with token authentication, and a look at it.

Other people's Ray clusters may run on the same machine, so the head keeps to itself:
* its ports are taken from 6400-6499 (GCS, Ray Client server, dashboard, dashboard agent);
* ``RAY_TMPDIR`` is a directory of its own, so its session files and its current-cluster file
  (``<RAY_TMPDIR>/ray/ray_current_cluster``, which a bare ``ray.init()`` reads) are not the
  machine's ``/tmp/ray``;
* it is stopped through the ``ray start --block`` process that started it (SIGTERM stops its
  processes), then its whole process group; never with ``ray stop``, which stops every Ray on
  the machine.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from paths import REPO

PORTS = range(6400, 6500)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def free_ports(n: int, ports: range = PORTS) -> int:
    """The first of ``n`` consecutive free ports in ``ports`` (6400-6499 by default)."""
    for first in range(ports.start, ports.stop - n + 1, n):
        if all(port_is_free(p) for p in range(first, first + n)):
            return first
    raise RuntimeError(f"no {n} free consecutive ports in {ports.start}-{ports.stop - 1}")


def closed_port() -> int:
    """A port in 6400-6499 on which nothing listens."""
    for port in reversed(PORTS):
        if port_is_free(port):
            return port
    raise RuntimeError("every port in 6400-6499 is taken")


class RayHead:
    """``ray start --head`` on 127.0.0.1 with token auth (its token in a file of its own)."""

    def __init__(self, ports: range = PORTS, num_cpus: int = 1) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mano-ray-", dir="/tmp"))  # short: Ray's socket paths
        self.token_file = self.dir / "auth_token"
        self.token_file.write_text(secrets.token_hex(32))
        self.ports = ports
        self.num_cpus = num_cpus
        self.port = free_ports(4, ports)
        self.workers: list[subprocess.Popen] = []
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def current_cluster_file(self) -> Path:
        return self.dir / "ray" / "ray_current_cluster"

    def client_env(self, **extra: str) -> dict[str, str]:
        """An environment with the head's token (and no RAY_ADDRESS or RAY_AUTH_MODE of the caller's)."""
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
        env["RAY_AUTH_TOKEN_PATH"] = str(self.token_file)
        env.update(extra)
        return env

    def start(self, timeout: float = 120.0) -> "RayHead":
        p = self.port
        env = self.client_env(RAY_AUTH_MODE="token", RAY_TMPDIR=str(self.dir))
        log = open(self.dir / "head.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block", "--port", str(p),
             "--ray-client-server-port", str(p + 1), "--dashboard-port", str(p + 2),
             "--dashboard-agent-listen-port", str(p + 3), "--num-cpus", str(self.num_cpus), "--include-dashboard=false",
             "--disable-usage-stats"],
            env=env, cwd=REPO, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.current_cluster_file.exists():  # written once the head is up
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ray start --head did not start: {(self.dir / 'head.log').read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def add_worker(self, node_ip: str, timeout: float = 120.0, num_cpus: int = 1, **env: str) -> subprocess.Popen:
        """``ray start --address`` of a worker node joining this head with its token, on
        ``node_ip`` (e.g. 127.0.0.2: another node for Ray, traffic stays on this machine), in an
        environment of its own (``env``: e.g. its own MANO_HOME); stopped with the head."""
        first = free_ports(3, self.ports)
        log = open(self.dir / f"worker-{len(self.workers)}.log", "wb")
        worker_env = self.client_env(RAY_AUTH_MODE="token", RAY_TMPDIR=str(self.dir), **env)
        process = subprocess.Popen(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--address", self.address,
             "--node-ip-address", node_ip, "--node-manager-port", str(first), "--object-manager-port",
             str(first + 1), "--dashboard-agent-listen-port", str(first + 2), "--num-cpus", str(num_cpus), "--resources", '{"mano_test_worker": 1}',
             "--disable-usage-stats"],
            env=worker_env, cwd=REPO, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.workers.append(process)
        deadline = time.monotonic() + timeout
        while self.look()["nodes"] < 1 + len(self.workers):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker node did not join: {(self.dir / log.name).read_text()[-3000:]}")
            time.sleep(0.5)
        return process

    def kill_worker(self, worker: subprocess.Popen, node_ip: str, timeout: float = 30.0) -> float:
        """Kill a worker node as a machine loss would: SIGKILL to its ``ray start`` process
        group (its raylet and the rest), then to any process of that node left in another
        group (Ray's worker processes of this head's session with ``node_ip``). The
        ``time.time()`` of the kill."""
        killed_at = time.time()
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except OSError:
            pass
        worker.wait()
        deadline = time.monotonic() + timeout
        while left := self.processes_of_node(node_ip):
            for process in left:
                try:
                    process.kill()
                except psutil.Error:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of node {node_ip} survive SIGKILL: {left}")
            time.sleep(0.1)
        return killed_at

    def processes_of_node(self, node_ip: str) -> list[psutil.Process]:
        """Live processes of this head's session that belong to the node ``node_ip``."""
        found = []
        for process in psutil.process_iter(["cmdline", "status"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if process.info["status"] != psutil.STATUS_ZOMBIE and str(self.dir) in cmdline \
                    and node_ip in cmdline:
                found.append(process)
        return found

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except OSError:
                pass
            worker.wait()
        self.workers = []
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # whatever of its session is left
            except OSError:
                pass
            self.process.wait()
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def look(self) -> dict:
        """What runs on the cluster: ``{"nodes": alive nodes, "mano": names of mano actors}``."""
        return run_python(LOOK, self.address, env=self.client_env(RAY_AUTH_MODE="token"))

    def placement(self) -> dict:
        """Where mano's live actors run: ``{"head": the head's node id, "nodes": alive node ids,
        "actors": {name: node id}}`` (from the GCS's actor table: no dashboard needed)."""
        return run_python(PLACEMENT, self.address, env=self.client_env(RAY_AUTH_MODE="token"))


@contextlib.contextmanager
def two_nodes(worker_ip: str, worker_home: Path) -> Iterator[tuple[RayHead, subprocess.Popen]]:
    """A head of its own and one worker node on ``worker_ip`` (its own MANO_HOME), stopped on exit."""
    head = RayHead().start()
    try:
        yield head, head.add_worker(worker_ip, MANO_HOME=str(worker_home))
    finally:
        head.stop()


LOOK = r"""
import json, sys
import ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
print("RESULT " + json.dumps({
    "nodes": sum(1 for n in ray.nodes() if n["Alive"]),
    "mano": sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "mano")}))
"""


PLACEMENT = r"""
import json, sys
import ray
from ray._private import state
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
names = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "mano"}
nodes = [n for n in ray.nodes() if n["Alive"]]
print("RESULT " + json.dumps({
    "head": next(n["NodeID"] for n in nodes if "node:__internal_head__" in n["Resources"]),
    "nodes": sorted(n["NodeID"] for n in nodes),
    "actors": {a["Name"]: a["Address"]["NodeID"] for a in state.actors(actor_state_name="ALIVE").values()
               if a["Name"] in names}}))
"""


def run_python(code: str, *args: str, env: dict[str, str], timeout: float = 240.0) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it printed after ``RESULT ``."""
    return run_python_logged(code, *args, env=env, timeout=timeout)[0]


def run_python_logged(code: str, *args: str, env: dict[str, str], timeout: float = 240.0) -> tuple[dict, str]:
    """Run ``code`` in a fresh interpreter; the JSON it printed after ``RESULT ``, and its stderr."""
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):]), result.stderr
