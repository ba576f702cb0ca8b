"""The container runner: an SM image runs as a Docker container and speaks AMQP, as in SONATA.

Per SM instance the runner

1. creates a broker user limited to the SM's topic (:mod:`mano.sm.broker`);
2. starts the image with the docker SDK: no privileges (``cap_drop=ALL``,
   ``no-new-privileges``), user ``nobody``, read-only root with a small ``/tmp``, cpu, memory
   and pid limits, no volumes (so no docker socket), labels ``mano.service`` / ``mano.sm`` /
   ``mano.sm.instance``, on the internal ``mano-sm`` network;
3. waits until the SM answers a ``ping`` on its topic (``generic.ssm.<service_id>`` or
   ``generic.fsm.<function_id>``) and then calls it there with SONATA's request/reply
   (:class:`~mano.messaging.rpc.RpcClient`: ``reply_to`` = the topic, same correlation id).

Network: the ``mano-sm`` bridge is *internal* (no route to the internet or to other Docker
networks, e.g. the VNFs'). The broker usually listens on the host's loopback only, so the
runner opens an :class:`~mano.sm.broker.AmqpGate` on the bridge's gateway address that relays
to the broker and admits SM users only; with ``firewall`` on, iptables drops everything else
the SM network sends to the host (Ray's and the store's ports included). Set
``ContainerConfig.broker_url`` when containers can reach a broker directly.

Stopping removes the container and deletes the broker user (which closes its connections).
Container names are ``mano-sm-<record id>-v<version>``; the instance name lives in a label, so
a restarted SMR finds its containers again.
"""
from __future__ import annotations

import logging
import subprocess
import threading
import time
import urllib.parse
from typing import Any

from mano.messaging.bus import Bus
from mano.messaging.rpc import RpcClient, RpcTimeoutError
from mano.settings import Settings
from mano.sm.broker import AmqpGate, BrokerAdmin, SmBrokerUser, make_broker_admin, sm_user
from mano.sm.config import ContainerConfig, SmrConfig
from mano.sm.runner import SmCallTimeout, SmInstanceName, SmLaunch, SmStartError, SmUnavailable
from ssm.runtime import PING

__all__ = ["ContainerRunner", "LABEL_INSTANCE", "LABEL_SERVICE", "LABEL_SM", "container_name"]

log = logging.getLogger(__name__)

LABEL_SERVICE = "mano.service"
LABEL_SM = "mano.sm"
LABEL_INSTANCE = "mano.sm.instance"
LABEL_USER = "mano.sm.user"
LABEL_TOPIC = "mano.sm.topic"
BRIDGE_NAME = "br-mano-sm"
APP_ID = "son-plugin.SpecificManagerRegistry"


def container_name(launch: SmLaunch) -> str:
    return f"mano-sm-{launch.record_id}-v{launch.version}"


class ContainerRunner:
    """Runs SM images as containers (see the module doc). Thread-safe.

    Args:
        config: registry config (broker URL, exchange, :class:`ContainerConfig`).
        settings: runtime settings (codec limits of the SMR's bus).
        client: a docker client (default ``docker.from_env()``).
        admin: how broker users are made (default: management API, else ``rabbitmqctl``).
    """

    def __init__(self, config: SmrConfig, *, settings: Settings | None = None, client: Any = None,
                 admin: BrokerAdmin | None = None):
        import docker

        self._config = config
        self._cc: ContainerConfig = config.container
        self._settings = settings or Settings(broker_url=config.broker_url, exchange=config.exchange)
        self._docker = client or docker.from_env(timeout=60)
        self._docker.ping()
        self._errors = docker.errors
        self._admin = admin
        self._lock = threading.RLock()
        self._bus: Bus | None = None
        self._rpc: dict[str, RpcClient] = {}
        self._gate: AmqpGate | None = None
        self._firewall_rule: list[str] | None = None
        self._endpoint: tuple[str, int] | None = None

    # --- runner interface --------------------------------------------------------------------
    def start(self, launch: SmLaunch, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        host, port = self._ensure_endpoint()
        self._ensure_image(launch.image)
        self._rpc_for(launch.topic)  # the bus declares the exchange the SM checks for
        user = sm_user(f"{launch.record_id[:8]}-{launch.sm_id.replace('/', '-')[:40]}-v{launch.version}",
                       launch.topic, self._config.exchange)
        self._create_user(user)
        try:
            container = self._run(launch, user, host, port)
            self._wait_ready(launch, container, deadline)
        except BaseException:
            self._remove(launch.name, user.name)
            raise
        log.info("SM container %s (%s) ready", container_name(launch), launch.image)

    def call(self, launch: SmLaunch, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        rpc = self._rpc_for(launch.topic)
        try:
            reply = rpc.call(launch.topic, body, timeout=timeout)
        except RpcTimeoutError:
            if not self.alive(launch):
                raise SmUnavailable(f"{container_name(launch)} is not running") from None
            raise SmCallTimeout(f"{container_name(launch)}: no answer within {timeout:g} s") from None
        if reply.error is not None:
            return {"status": "ERROR", "error": f"invalid answer: {reply.error}"}
        return dict(reply.body or {})

    def alive(self, launch: SmLaunch) -> bool:
        container = self._container(launch.name)
        if container is None:
            return False
        return container.status == "running"

    def stop(self, launch: SmLaunch) -> None:
        container = self._container(launch.name)
        user = container.labels.get(LABEL_USER) if container is not None else None
        self._remove(launch.name, user)

    def running(self) -> list[SmInstanceName]:
        found = []
        for container in self._docker.containers.list(all=True, filters={"label": LABEL_INSTANCE}):
            instance = SmInstanceName.parse(container.labels.get(LABEL_INSTANCE, ""))
            if instance is not None:
                found.append(instance)
        return found

    def stop_instance(self, instance: SmInstanceName) -> None:
        container = self._container(instance.name)
        self._remove(instance.name, container.labels.get(LABEL_USER) if container is not None else None)

    def close(self) -> None:
        """Stop the gate, the reply subscriptions and the bus (containers keep running)."""
        with self._lock:
            clients, self._rpc = list(self._rpc.values()), {}
            bus, self._bus = self._bus, None
            gate, self._gate = self._gate, None
            rule, self._firewall_rule = self._firewall_rule, None
            self._endpoint = None
        for client in clients:
            client.close()
        if bus is not None:
            bus.stop()
        if gate is not None:
            gate.close()
        if rule is not None:
            _iptables("-D", *rule)

    # --- inspection (tests, tools) -------------------------------------------------------------
    def container(self, launch: SmLaunch) -> Any:
        """The docker container of an instance, or None."""
        return self._container(launch.name)

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """Where containers reach the broker (the gate), once started."""
        return self._endpoint

    # --- helpers -----------------------------------------------------------------------------
    def _ensure_endpoint(self) -> tuple[str, int]:
        with self._lock:
            if self._endpoint is not None:
                return self._endpoint
            gateway, bridge = self._ensure_network()
            if self._cc.broker_url:
                parsed = urllib.parse.urlparse(self._cc.broker_url)
                self._endpoint = (parsed.hostname or "localhost", parsed.port or 5672)
                return self._endpoint
            broker = urllib.parse.urlparse(self._config.broker_url)
            self._gate = AmqpGate(gateway, self._cc.gate_port, broker.hostname or "localhost",
                                  broker.port or 5672)
            for container in self._docker.containers.list(filters={"label": LABEL_USER}):
                self._gate.allow(container.labels[LABEL_USER])  # SMs started before an SMR restart
            if self._cc.firewall:
                self._firewall_rule = _open_firewall(bridge, self._gate.port)
            self._endpoint = (gateway, self._gate.port)
            log.info("AMQP gate for SM containers on %s:%d", *self._endpoint)
            return self._endpoint

    def _ensure_network(self) -> tuple[str, str]:
        """(gateway address, bridge interface) of the SM network, created if missing."""
        name = self._cc.network
        networks = [n for n in self._docker.networks.list(names=[name]) if n.name == name]
        if networks:
            network = networks[0]
            network.reload()
        else:
            try:
                network = self._docker.networks.create(
                    self._cc.network, driver="bridge", internal=True, labels={"mano.role": "sm-network"},
                    options={"com.docker.network.bridge.name": BRIDGE_NAME})
            except self._errors.APIError:  # created concurrently
                network = self._docker.networks.get(self._cc.network)
            network.reload()
        config = (network.attrs.get("IPAM") or {}).get("Config") or [{}]
        gateway = config[0].get("Gateway")
        if not gateway:
            raise SmStartError(f"docker network {self._cc.network} has no gateway address")
        options = network.attrs.get("Options") or {}
        bridge = options.get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"
        return gateway, bridge

    def _ensure_image(self, image: str) -> None:
        try:
            self._docker.images.get(image)
            return
        except self._errors.ImageNotFound:
            pass
        try:  # SONATA pulled SM images; here a registry may not be reachable
            self._docker.images.pull(image)
        except Exception as exc:  # noqa: BLE001
            raise SmStartError(f"image {image!r} is not present and cannot be pulled: {exc}") from None

    def _admin_client(self) -> BrokerAdmin:
        with self._lock:
            if self._admin is None:
                self._admin = make_broker_admin(self._config.broker_url, self._cc.management_url)
            return self._admin

    def _create_user(self, user: SmBrokerUser) -> None:
        try:
            self._admin_client().create_user(user)
        except Exception as exc:  # noqa: BLE001
            raise SmStartError(f"cannot create broker user {user.name}: {exc}") from None
        with self._lock:
            if self._gate is not None:
                self._gate.allow(user.name)

    def _run(self, launch: SmLaunch, user: SmBrokerUser, host: str, port: int) -> Any:
        url = user.url(host, port)
        environment = {
            "MANO_SM_CONTEXT": launch.context().model_dump_json(),
            "MANO_SM_BROKER_URL": url, "broker_host": url,  # SONATA's name
            "MANO_SM_EXCHANGE": self._config.exchange, "MANO_SM_TOPIC": launch.topic,
            "MANO_SM_QUEUE": user.queue_prefix, "sf_uuid": launch.topic.rsplit(".", 1)[-1],
        }
        if launch.options.get("class"):
            environment["MANO_SM_CLASS"] = launch.options["class"]
        try:
            return self._docker.containers.run(
                launch.image, detach=True, name=container_name(launch), environment=environment,
                labels={LABEL_SERVICE: launch.service_id, LABEL_SM: launch.sm_id, LABEL_INSTANCE: launch.name,
                        LABEL_USER: user.name, LABEL_TOPIC: launch.topic,
                        "mano.sm.type": launch.sm_type.value},
                network=self._cc.network, nano_cpus=int(self._cc.cpus * 1e9), mem_limit=self._cc.memory,
                memswap_limit=self._cc.memory, pids_limit=self._cc.pids_limit, user=self._cc.user,
                read_only=self._cc.read_only, tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"},
                cap_drop=["ALL"], security_opt=["no-new-privileges"], privileged=False,
                restart_policy={"Name": "no"}, volumes={}, log_config={"type": "json-file",
                                                                       "config": {"max-size": "1m"}})
        except self._errors.APIError as exc:
            raise SmStartError(f"docker run {launch.image}: {exc.explanation or exc}") from None

    def _wait_ready(self, launch: SmLaunch, container: Any, deadline: float) -> None:
        ping = {"ssm_type": PING, "fsm_type": PING, "sm_id": launch.sm_id, "sm_version": launch.version,
                "content": {}}
        rpc = self._rpc_for(launch.topic)
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                logs = container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
                code = container.attrs.get("State", {}).get("ExitCode")
                raise SmStartError(f"container exited with code {code}: {logs[-400:]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SmStartError(f"container did not answer on {launch.topic} in time")
            try:
                rpc.call(launch.topic, ping, timeout=min(1.0, remaining))
                return
            except RpcTimeoutError:
                continue

    def _rpc_for(self, topic: str) -> RpcClient:
        with self._lock:
            client = self._rpc.get(topic)
            if client is None:
                if self._bus is None:
                    bus = Bus(self._settings, app_id=APP_ID, url=self._config.broker_url,
                              exchange=self._config.exchange, name=f"smr-{id(self):x}")
                    self._bus = bus.start(timeout=30)
                client = self._rpc[topic] = RpcClient(self._bus)
            return client

    def _container(self, name: str) -> Any:
        found = self._docker.containers.list(all=True, filters={"label": f"{LABEL_INSTANCE}={name}"})
        return found[0] if found else None

    def _remove(self, name: str, user: str | None) -> None:
        container = self._container(name)
        topic = container.labels.get(LABEL_TOPIC) if container is not None else None
        if container is not None:
            try:
                container.remove(force=True)
            except self._errors.NotFound:
                pass
        if user:
            with self._lock:
                if self._gate is not None:
                    self._gate.deny(user)
            self._admin_client().delete_user(user)
        self._release_topic(topic)

    def _release_topic(self, topic: str | None) -> None:
        """Close a topic's reply subscription once no container of ours uses that topic."""
        if not topic:
            return
        if self._docker.containers.list(all=True, filters={"label": f"{LABEL_TOPIC}={topic}"}):
            return  # other SMs of the service still use it (a service's SSMs share one topic)
        with self._lock:
            client = self._rpc.pop(topic, None)
        if client is not None:
            client.close()


def _iptables(*args: str) -> bool:
    try:
        return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, timeout=30,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _open_firewall(bridge: str, port: int) -> list[str] | None:
    """Drop what the SM network sends to the host, except to the gate; best effort.

    Returns the ACCEPT rule (to delete on close), or None if iptables is not usable here.
    """
    drop = ["INPUT", "-i", bridge, "-j", "DROP"]
    accept = ["INPUT", "-i", bridge, "-p", "tcp", "--dport", str(port), "-j", "ACCEPT"]
    if not _iptables("-C", *drop) and not _iptables("-A", *drop):
        log.warning("iptables not usable: SM containers can reach every port the host listens on "
                    "from the %s network", bridge)
        return None
    if not _iptables("-C", *accept):
        _iptables("-I", "INPUT", "1", *accept[1:])
    return accept
