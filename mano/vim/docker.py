"""The Docker VIM: each deployment unit a container, each virtual link a Docker network.

DESIGN.md decision 7. The driver keeps the emulated VIM's contract (idempotent calls, PoP
capacity reserved atomically, ``CapacityError`` naming the PoP and the numbers), and adds what
real infrastructure needs: no leaks and recovery after a crash.

Design choices:

* **Docker is the source of truth, labels are the index.** Every object carries labels under
  ``label_prefix`` (default ``mano``): ``mano.driver=docker-vim`` marks what this driver owns,
  ``mano.role`` says what it is (``unit``, ``service-network``, ``pop-network``), and
  ``mano.service``, ``mano.vnf``, ``mano.vdu``, ``mano.pop``, ``mano.vl`` say whose it is. A
  container also carries what it asked for (``mano.vcpus``, ``mano.memory-gb``,
  ``mano.connection-points``), so a restarted driver rebuilds its capacity accounting and the
  connection-point addresses from Docker alone. Objects without the driver label (SSM
  containers, other tools) are never touched.
* **Names follow SONATA** (SONATA.md §4): a container is ``<unit id>-<vnf instance id>``, a
  service network ``<service id>_ns_<vl id>``.
* **PoPs are separate networks.** Each PoP has an internal management bridge
  ``<prefix>_pop_<vim uuid>``; a container with a connection point bound to no service network
  (or with none at all) joins it, and such points get their address there (the emulated VIM's
  management address). A container whose points are all on service networks does not: every
  network endpoint costs time at container start (about a quarter of a start with the demo's
  three links), and it would add nothing but an address nobody was given. Containers on
  different PoPs meet only through service networks. A PoP network is created with the first
  container that needs it and removed once no VNF on the PoP is left.
* **Networks are internal bridges** (``internal_networks=True``): VNFs reach each other, not
  the outside world (there is no registry or internet to reach anyway). Subnets are taken from
  ``subnet_pool`` (default ``10.213.0.0/16`` in /24s, skipping any subnet another Docker
  network uses), because Docker's own default pools hold only ~30 networks.
* **Resource limits.** ``nano_cpus`` is ``min(vcpus, host cpus)``: a VNFD may ask for more
  cores than the Docker host has and Docker rejects such limits; the *requested* cores are
  what the PoP accounting reserves. Memory is capped at ``memory_cap_mb`` (256 MB) unless
  ``enforce_memory=True``: the stand-in images need a few MB while VNFDs ask for GBs, and a test
  host cannot honour that; with ``enforce_memory`` the requested size is the limit. Swap is
  limited to the same size, the restart policy is ``no`` (a crash shows as ``failed`` and
  healing is the orchestrator's job), containers are unprivileged with
  ``no-new-privileges`` and never get the Docker socket.
* **Images.** ``vm_image`` is mapped through ``image_map`` (see :func:`images.resolve_image`),
  falling back to ``default_image``; the busybox stand-in is built on first use with
  ``docker import`` (:mod:`mano.vim.images`). Images are never pulled: no registry is
  reachable, so a missing image is a clear ``VimError`` at once instead of a long timeout.
  Images without a command (``docker import`` output) run ``sleep infinity``.
* **No leaks.** ``deploy_vnf`` prepares everything it can (images, limits) before reserving
  capacity; if a unit fails afterwards it removes every container of the VNF and releases the
  capacity. ``reconcile`` (run at start when a store is given) removes labelled containers and
  networks whose VNF or service has no live record and re-adopts the live ones.
* **Errors.** Docker SDK exceptions never leave this module: connection errors and timeouts
  become ``TemporaryVimError`` (retryable), everything else ``VimError`` with what was being
  done. Only this module and :mod:`mano.vim.images` import the SDK.
* **Threads.** One lock guards the accounting (never held across Docker calls), one per VNF
  instance serialises deploy/remove of the same VNF, one serialises network creation and
  removal (Docker does not enforce unique network names), and a semaphore lets one container
  removal per two host cores reach dockerd at a time (more only contend there).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import ipaddress
import json
import logging
import re
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

try:
    import docker
    import docker.errors
    import docker.types
    import requests.exceptions
except ImportError as exc:  # the SDK is an extra: mano runs without it on the emulated VIM
    raise ImportError("the docker VIM needs the docker SDK: pip install 'mano[docker]'") from exc

from mano.errors import CapacityError, TemporaryVimError, VimError
from mano.lifecycle.reconfiguration import ENV_NAME
from mano.vim import images
from mano.lifecycle.vim_port import (
    DeployedUnit,
    DeployedVnf,
    Network,
    NetworkRequest,
    Pop,
    UnitRequest,
    VimDriver,
    VnfDeployment,
)

log = logging.getLogger(__name__)

DRIVER_ID = "docker-vim"
ROLE_UNIT, ROLE_SERVICE_NETWORK, ROLE_POP_NETWORK = "unit", "service-network", "pop-network"
DEFAULT_SUBNET_POOL = "10.213.0.0/16"
DEFAULT_MEMORY_CAP_MB = 256
_MIN_MEMORY_BYTES = 8 * 1024 ** 2   # Docker refuses limits under 6 MB
_MIN_CPUS = 0.01                     # Docker's smallest cpu limit
_GIB, _MIB = 1024 ** 3, 1024 ** 2
_EPSILON = 1e-9
_LIVE_SERVICE_EXCLUDES = ("TERMINATED", "FAILED")  # ServiceState values whose networks are orphans
_LOG_CONFIG = docker.types.LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"})


class LabelKeys:
    """The label names under one prefix (``mano.service`` ...); tests use a prefix of their own."""

    def __init__(self, prefix: str = "mano"):
        self.prefix = prefix
        self.driver = f"{prefix}.driver"          # always DRIVER_ID: what this driver owns
        self.role = f"{prefix}.role"              # ROLE_UNIT / ROLE_SERVICE_NETWORK / ROLE_POP_NETWORK
        self.service = f"{prefix}.service"
        self.vnf = f"{prefix}.vnf"
        self.vdu = f"{prefix}.vdu"
        self.pop = f"{prefix}.pop"
        self.vl = f"{prefix}.vl"
        self.connectivity = f"{prefix}.connectivity"
        self.vnf_name = f"{prefix}.vnf-name"
        self.unit_kind = f"{prefix}.unit-kind"
        self.vcpus = f"{prefix}.vcpus"            # requested, not the (capped) limit
        self.memory_gb = f"{prefix}.memory-gb"    # requested, not the (capped) limit
        self.connection_points = f"{prefix}.connection-points"  # JSON: cp id -> network name

    def selector(self, **values: str) -> dict[str, list[str]]:
        """A Docker ``filters`` dict: owned by this driver and labelled with ``values``."""
        return {"label": [f"{self.driver}={DRIVER_ID}"]
                + [f"{getattr(self, key)}={value}" for key, value in values.items()]}


@dataclasses.dataclass(frozen=True)
class ReconcileReport:
    """What :meth:`DockerVim.reconcile` found and did (names of Docker objects, VNF ids)."""

    removed_containers: tuple[str, ...] = ()
    removed_networks: tuple[str, ...] = ()
    adopted_vnfs: tuple[str, ...] = ()
    missing_vnfs: tuple[str, ...] = ()   # live in the records, no container on Docker (heal them)
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {f.name: list(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class _UnitSpec:
    """Everything needed to create one unit's container, decided before anything is created."""

    unit: UnitRequest
    name: str
    image: str
    command: list[str] | None
    nano_cpus: int
    mem_limit: int
    labels: dict[str, str]
    networks: dict[str, str]   # connection point -> Docker network name
    primary_network: str       # created on it: the PoP network, or its first service network if all points are bound


@contextlib.contextmanager
def _docker_errors(action: str) -> Iterator[None]:
    """Translate docker SDK / requests exceptions into mano's VimError hierarchy."""
    try:
        yield
    except VimError:
        raise
    except docker.errors.ImageNotFound as exc:
        raise VimError(f"{action}: image not found locally ({_explain(exc)}); no registry is reachable, "
                       "so build the image or map the vm_image to a local one (image_map)") from exc
    except docker.errors.APIError as exc:
        error = TemporaryVimError if exc.status_code in (503, 504) else VimError
        raise error(f"{action}: docker refused: {_explain(exc)}") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise TemporaryVimError(f"{action}: cannot reach dockerd: {exc}") from exc
    except docker.errors.DockerException as exc:
        raise VimError(f"{action}: {exc}") from exc


def _explain(exc: docker.errors.APIError) -> str:
    return str(exc.explanation or exc)


def _docker_name(text: str) -> str:
    """``text`` made valid as a Docker object name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    name = re.sub(r"[^a-zA-Z0-9_.-]", "-", text)
    return name if name[:1].isalnum() else f"x{name}"


class DockerVim(VimDriver):
    """A VIM driver on one dockerd; PoPs are accounting domains with their own networks."""

    kind = "docker"

    def __init__(self, pops: Sequence[Pop], *, store: Any = None, client: Any = None,
                 image_map: Mapping[str, str] | None = None, default_image: str = images.BUSYBOX_TAG,
                 label_prefix: str = "mano", reconcile: bool = True, enforce_memory: bool = False,
                 memory_cap_mb: int = DEFAULT_MEMORY_CAP_MB, internal_networks: bool = True,
                 subnet_pool: str | None = DEFAULT_SUBNET_POOL, subnet_prefix: int = 24):
        """Connect to dockerd (``client`` or ``docker.from_env()``) and reconcile if ``store`` is given.

        ``store`` needs only ``store.vnfr.find(filter)`` (and uses ``store.services.find`` when
        present); ``subnet_pool=None`` lets Docker choose subnets.
        """
        if not pops:
            raise VimError("the docker VIM needs at least one PoP")
        self._store = store
        self._owns_client = client is None
        self._client = client if client is not None else self._connect()
        with _docker_errors("asking dockerd for its cpu count"):
            self._host_cpus = float(self._client.info().get("NCPU") or 1)
        self._labels = LabelKeys(label_prefix)
        self._image_map = dict(image_map or {})
        self._default_image = default_image
        self._enforce_memory = enforce_memory
        self._memory_cap = memory_cap_mb * _MIB
        self._internal = internal_networks
        self._subnet_pool = ipaddress.ip_network(subnet_pool) if subnet_pool else None
        self._subnet_prefix = subnet_prefix
        self._image_commands: dict[str, list[str] | None] = {}
        self._lock = threading.Lock()            # accounting below; never held across Docker calls
        self._network_lock = threading.RLock()   # Docker network create/remove
        self._vnf_locks: dict[str, threading.Lock] = {}
        # Concurrent container removals contend in dockerd: on 2 cores three at once took 0.71 s
        # against 0.55 s one after the other, so one per two host cores runs at a time. (Starts
        # gain from overlapping: serialising them cost 0.3 s of the demo's 1.5 s.)
        self._removal_slots = threading.BoundedSemaphore(max(1, int(self._host_cpus) // 2))
        self._pops = {p.vim_uuid: p for p in pops}
        self._demand: dict[str, tuple[str, float, float]] = {}  # vnf id -> (pop, cores, GB)
        self._deployed: dict[str, DeployedVnf] = {}
        self._services: set[str] = set()         # services whose networks this process made
        # PoPs whose network exists as far as this driver knows (it makes them, and reconcile
        # lists them): removing a VNF skips the removal attempt of a PoP network that is not there.
        self._pop_networks: set[str] = set()
        self.last_reconcile: ReconcileReport | None = None
        if reconcile and store is not None:
            self.last_reconcile = self.reconcile()  # learns the PoP networks too
        else:
            self._list_pop_networks()

    @staticmethod
    def _connect() -> Any:
        try:
            client = docker.from_env()
            client.ping()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise TemporaryVimError(f"cannot reach dockerd (DOCKER_HOST or /var/run/docker.sock): {exc}") from exc
        return client

    @property
    def labels(self) -> LabelKeys:
        """The label names this driver writes and selects by (for tools that inspect Docker)."""
        return self._labels

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def list_pops(self) -> list[Pop]:
        with self._lock:
            return list(self._pops.values())

    def deployments(self) -> dict[str, DeployedVnf]:
        with self._lock:
            return dict(self._deployed)

    # --- networks ----------------------------------------------------------------------------
    def create_networks(self, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]:
        """One internal bridge per virtual link; existing ones are returned as they are.

        Missing networks are created concurrently (subnets picked from one listing); if one
        fails, the networks this call created are removed again.
        """
        with self._lock:
            self._services.add(service_id)  # before creating: reconcile must not take them for orphans
        with self._network_lock:
            existing = {n["Labels"].get(self._labels.vl): n for n in self._service_networks(service_id)}
            missing = list({req.vl_id: req for req in requests if req.vl_id not in existing}.values())
            hints = iter(self._free_subnets(sum(req.cidr is None for req in missing)))
            jobs = [(f"{service_id}_ns_{req.vl_id}", req.cidr, req.cidr or next(hints, None), {
                self._labels.role: ROLE_SERVICE_NETWORK, self._labels.service: service_id,
                self._labels.vl: req.vl_id, self._labels.connectivity: req.connectivity_type}) for req in missing]
            outcomes = _run_all(self._create_network, jobs)
            failures = [error for _, error in outcomes if error is not None]
            if failures:
                for net, _ in outcomes:
                    if net is not None:
                        with contextlib.suppress(VimError):  # the original error matters more
                            self._remove_network(net["Id"])
                raise failures[0]
            existing.update({req.vl_id: net for req, (net, _) in zip(missing, outcomes)})
        return [Network(id=existing[req.vl_id]["Name"], vl_id=req.vl_id, cidr=_subnet_of(existing[req.vl_id]))
                for req in requests]

    def delete_networks(self, service_id: str) -> None:
        """Remove every network labelled with the service, disconnecting its containers first."""
        with self._network_lock:
            for net in self._service_networks(service_id):
                self._remove_network(net["Id"])
        with self._lock:
            self._services.discard(service_id)

    def _service_networks(self, service_id: str | None = None) -> list[dict[str, Any]]:
        values = {"role": ROLE_SERVICE_NETWORK} | ({"service": service_id} if service_id else {})
        with _docker_errors("listing networks"):
            return self._client.api.networks(filters=self._labels.selector(**values))

    def _create_network(self, name: str, cidr: str | None, subnet: str | None,
                        labels: dict[str, str]) -> dict[str, Any]:
        """Create an (internal) bridge on ``cidr`` (required) or ``subnet`` (a free one, as far as
        the caller knew); retries on another free subnet if that one was taken meanwhile."""
        labels = {self._labels.driver: DRIVER_ID, **labels}
        for attempt in range(3):
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]) if subnet else None
            try:
                with _docker_errors(f"creating network {name}"):
                    created = self._client.api.create_network(
                        name, driver="bridge", internal=self._internal, labels=labels, ipam=ipam,
                        check_duplicate=True)
                    return self._client.api.inspect_network(created["Id"])
            except VimError as exc:
                if cidr or "overlap" not in str(exc).lower() or attempt == 2:
                    raise
            subnet = next(iter(self._free_subnets(1)), None)  # no lock: the caller may hold it
        raise AssertionError("unreachable")

    def _free_subnets(self, count: int) -> list[str]:
        """``count`` subnets of the pool that no Docker network overlaps (none: let Docker pick)."""
        if self._subnet_pool is None or count == 0:
            return []
        with _docker_errors("listing networks"):
            configs = [c for n in self._client.api.networks() for c in (n.get("IPAM") or {}).get("Config") or []]
        used = [ipaddress.ip_network(c["Subnet"], strict=False) for c in configs if c.get("Subnet")]
        used = [u for u in used if u.version == self._subnet_pool.version]
        free = []
        for candidate in self._subnet_pool.subnets(new_prefix=self._subnet_prefix):
            if not any(candidate.overlaps(u) for u in used):
                free.append(str(candidate))
                if len(free) == count:
                    return free
        raise VimError(f"the docker VIM's subnet pool {self._subnet_pool} is exhausted")

    def _remove_network(self, network: str) -> bool:
        """Remove the network (id or name), disconnecting containers still attached; False if it
        was gone. Removal is tried first: on terminate its containers are gone already, and the
        inspect-and-disconnect round trips cost the demo 0.1 s of its 0.5 s network removal."""
        try:
            with _docker_errors(f"removing network {network}"):
                try:
                    self._client.api.remove_network(network)
                except docker.errors.APIError as exc:
                    if isinstance(exc, docker.errors.NotFound) or "active endpoints" not in str(exc):
                        raise
                    attached = self._client.api.inspect_network(network).get("Containers") or {}
                    for container_id in attached:
                        with contextlib.suppress(docker.errors.NotFound):
                            self._client.api.disconnect_container_from_network(container_id, network, force=True)
                    self._client.api.remove_network(network)
        except VimError as exc:
            if isinstance(exc.__cause__, docker.errors.NotFound):
                return False
            raise
        return True

    def _list_pop_networks(self) -> list[dict[str, Any]]:
        """The PoP networks in Docker, which the driver then knows exist."""
        with _docker_errors("listing networks"):
            networks = self._client.api.networks(filters=self._labels.selector(role=ROLE_POP_NETWORK))
        with self._network_lock:
            self._pop_networks.update(self._pop_of(net) for net in networks)
        return networks

    def _pop_of(self, network: dict[str, Any]) -> str:
        return (network.get("Labels") or {}).get(self._labels.pop, "")

    def _pop_network_name(self, pop_id: str) -> str:
        return f"{self._labels.prefix}_pop_{_docker_name(pop_id)}"

    def _ensure_pop_network(self, pop_id: str) -> str:
        name = self._pop_network_name(pop_id)
        with self._network_lock:
            with _docker_errors("listing networks"):
                found = self._client.api.networks(filters=self._labels.selector(role=ROLE_POP_NETWORK, pop=pop_id))
            if not any(n["Name"] == name for n in found):
                self._create_network(name, None, next(iter(self._free_subnets(1)), None),
                                     {self._labels.role: ROLE_POP_NETWORK, self._labels.pop: pop_id})
            self._pop_networks.add(pop_id)
        return name

    def _remove_pop_network_if_unused(self, pop_id: str) -> str | None:
        """Remove the PoP's network when no VNF on the PoP is reserved; best effort (logged)."""
        with self._network_lock:
            with self._lock:
                if pop_id not in self._pop_networks or any(pop == pop_id for pop, _, _ in self._demand.values()):
                    return None
            name = self._pop_network_name(pop_id)
            try:
                removed = self._remove_network(name)
                self._pop_networks.discard(pop_id)
                return name if removed else None
            except VimError as exc:
                log.warning("cannot remove PoP network %s (reconcile will retry): %s", name, exc)
                return None

    # --- VNFs: deploy -------------------------------------------------------------------------
    def deploy_vnf(self, deployment: VnfDeployment) -> DeployedVnf:
        """Start one container per unit; idempotent by VNF instance id (see the module docstring)."""
        with self._vnf_lock(deployment.vnf_instance_id):
            existing = self._existing_deployment(deployment)
            if existing is not None:
                return existing
            specs = [self._unit_spec(deployment, unit) for unit in deployment.units]  # may raise, nothing made yet
            self._reserve(deployment)
            try:
                if any(spec.primary_network == self._pop_network_name(deployment.pop) for spec in specs):
                    self._ensure_pop_network(deployment.pop)
                containers = [self._start_unit(spec) for spec in specs]
                deployed = DeployedVnf(deployment.vnf_instance_id, deployment.pop,
                                       tuple(self._deployed_unit(c) for c in containers))
            except BaseException:
                self._undo_deploy(deployment)
                raise
            with self._lock:
                self._deployed[deployment.vnf_instance_id] = deployed
            return deployed

    def _undo_deploy(self, deployment: VnfDeployment) -> None:
        """Remove every container of a failed deployment and release its capacity."""
        log.warning("deploying VNF %s (%s) on %s failed; removing what was created",
                    deployment.vnf_instance_id, deployment.vnf_name, deployment.pop)
        try:
            self._remove_containers(self._unit_containers(vnf=deployment.vnf_instance_id))
        except VimError as exc:  # the original error matters more; reconcile removes the rest
            log.error("cleanup of VNF %s failed: %s", deployment.vnf_instance_id, exc)
        self._release(deployment.vnf_instance_id)
        self._remove_pop_network_if_unused(deployment.pop)

    def _existing_deployment(self, deployment: VnfDeployment) -> DeployedVnf | None:
        """The running deployment of this VNF, or None after clearing a partial or failed one."""
        vnf_id = deployment.vnf_instance_id
        containers = self._unit_containers(vnf=vnf_id)
        units = {c["Config"]["Labels"].get(self._labels.vdu) for c in containers}
        if containers and _all_running(containers) and units == {u.id for u in deployment.units}:
            with self._lock:
                known = self._deployed.get(vnf_id)
            return known or self._adopt(containers)
        if containers:
            log.info("VNF %s has %d stale containers (failed or partial); re-deploying it", vnf_id, len(containers))
            self._remove_containers(containers)
        self._release(vnf_id)
        return None

    def _unit_spec(self, deployment: VnfDeployment, unit: UnitRequest) -> _UnitSpec:
        image = self._image_for(unit)
        pop_network = self._pop_network_name(deployment.pop)
        networks = {cp: deployment.networks.get(cp) or deployment.networks.get(f"{unit.id}:{cp}") or pop_network
                    for cp in unit.connection_points}
        bound = sorted(set(networks.values()) - {pop_network})
        primary = pop_network if pop_network in networks.values() or not bound else bound[0]
        labels = {self._labels.driver: DRIVER_ID, self._labels.role: ROLE_UNIT,
                  self._labels.service: deployment.service_id, self._labels.vnf: deployment.vnf_instance_id,
                  self._labels.vdu: unit.id, self._labels.pop: deployment.pop,
                  self._labels.vnf_name: deployment.vnf_name, self._labels.unit_kind: unit.kind,
                  self._labels.vcpus: repr(float(unit.vcpus)), self._labels.memory_gb: repr(float(unit.memory_gb)),
                  self._labels.connection_points: json.dumps(networks, sort_keys=True)}
        return _UnitSpec(unit=unit, name=_docker_name(f"{unit.id}-{deployment.vnf_instance_id}"), image=image,
                         command=self._command_for(image), nano_cpus=self._nano_cpus(unit.vcpus),
                         mem_limit=self._memory_limit(unit.memory_gb), labels=labels, networks=networks,
                         primary_network=primary)

    def _image_for(self, unit: UnitRequest) -> str:
        image = images.resolve_image(unit.image, self._image_map, self._default_image)
        if image == images.BUSYBOX_TAG:
            with _docker_errors(f"building the stand-in image {image}"):
                images.ensure_busybox_image(self._client, image)
        return image

    def _command_for(self, image: str) -> list[str] | None:
        """None for images with their own command; ``sleep infinity`` for bare imported ones."""
        if image not in self._image_commands:
            with _docker_errors(f"inspecting image {image}"):
                config = self._client.api.inspect_image(image).get("Config") or {}
            has_command = bool(config.get("Cmd") or config.get("Entrypoint"))
            self._image_commands[image] = None if has_command else ["sleep", "infinity"]
        return self._image_commands[image]

    def _nano_cpus(self, vcpus: float) -> int:
        if vcpus <= 0:
            return 0  # no limit (cloud-native units ask for none)
        return int(max(_MIN_CPUS, min(vcpus, self._host_cpus)) * 1e9)

    def _memory_limit(self, memory_gb: float) -> int:
        requested = int(memory_gb * _GIB)
        if self._enforce_memory:
            return max(requested, _MIN_MEMORY_BYTES) if requested > 0 else 0
        return max(min(requested or self._memory_cap, self._memory_cap), _MIN_MEMORY_BYTES)

    def _start_unit(self, spec: _UnitSpec) -> dict[str, Any]:
        """Create the container on its primary network, join the others, start it."""
        with _docker_errors(f"starting unit {spec.unit.id} as container {spec.name}"):
            container = self._client.containers.create(
                spec.image, command=spec.command, name=spec.name, hostname=_docker_name(spec.unit.id)[:63],
                labels=spec.labels, environment=dict(spec.unit.env), nano_cpus=spec.nano_cpus or None,
                mem_limit=spec.mem_limit or None, memswap_limit=spec.mem_limit or None,
                network=spec.primary_network, privileged=False, security_opt=["no-new-privileges"],
                log_config=_LOG_CONFIG)
            for network in sorted(set(spec.networks.values()) - {spec.primary_network}):
                self._client.api.connect_container_to_network(container.id, network)
            container.start()
            return self._client.api.inspect_container(container.id)

    def _deployed_unit(self, container: dict[str, Any]) -> DeployedUnit:
        """The unit as the VNFR reports it: addresses read back from Docker's network settings."""
        labels = container["Config"]["Labels"]
        networks = json.loads(labels.get(self._labels.connection_points) or "{}")
        settings = container["NetworkSettings"].get("Networks") or {}
        return DeployedUnit(unit_id=labels[self._labels.vdu], vc_id=container["Id"], vim_id=labels[self._labels.pop],
                            addresses={cp: (settings.get(net) or {}).get("IPAddress", "")
                                       for cp, net in networks.items()})

    # --- VNFs: remove, status, stats ----------------------------------------------------------
    def remove_vnf(self, service_id: str, vnf_instance_id: str) -> None:
        """Force-remove the VNF's containers and release its capacity; a no-op when it is gone."""
        with self._vnf_lock(vnf_instance_id):
            containers = self._unit_summaries(vnf=vnf_instance_id)  # no inspect needed to remove
            self._remove_containers(containers)
            pops = {(c.get("Labels") or {}).get(self._labels.pop) for c in containers}
            pops.add(self._release(vnf_instance_id))
            for pop_id in pops - {None}:
                self._remove_pop_network_if_unused(pop_id)

    def configure_vnf(self, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None:
        """Write the environment into every unit's container as ``/run/mano/env`` (``export K='v'``
        lines), where the VNF's processes source it: a container's own environment cannot
        change while it runs."""
        for key in envs:
            if not ENV_NAME.fullmatch(str(key)):
                raise VimError(f"{key!r} is not a valid environment variable name")
        text = "".join(f"export {k}={shlex.quote(str(v))}\n" for k, v in sorted(envs.items()))
        script = (f"mkdir -p /run/mano && printf %s {shlex.quote(text)} > /run/mano/env.new && "
                  f"mv /run/mano/env.new /run/mano/env")
        with self._vnf_lock(vnf_instance_id):
            containers = [c for c in self._unit_containers(vnf=vnf_instance_id) if c["State"]["Status"] == "running"]
            if not containers:
                raise VimError(f"VNF instance {vnf_instance_id} has no running container on the docker VIM "
                               f"to configure")
            for container in containers:
                self._exec(container["Id"], script)

    def _exec(self, container_id: str, script: str) -> None:
        with _docker_errors(f"running a command in container {container_id[:12]}"):
            result = self._client.containers.get(container_id).exec_run(["sh", "-c", script])
        if result.exit_code != 0:
            output = (result.output or b"").decode(errors="replace").strip()
            raise VimError(f"configuring container {container_id[:12]} failed ({result.exit_code}): {output}")

    def vnf_status(self, vnf_instance_id: str) -> str:
        """``running`` if every unit's container runs, ``failed`` if one exited, died or vanished,
        ``absent`` if the VNF has no container and this driver does not know it."""
        containers = self._unit_containers(vnf=vnf_instance_id)
        with self._lock:
            known = self._deployed.get(vnf_instance_id)
        if not containers:
            return "failed" if known is not None else "absent"
        if not _all_running(containers) or (known is not None and len(containers) < len(known.units)):
            return "failed"
        return "running"

    def stats(self, vnf_instance_id: str) -> dict[str, float]:
        """SONATA's VM metrics for the VNF: mean cpu/memory % over its units, summed network MB.

        cpu % is relative to the unit's own cpu limit (100 = all its cores busy), as in a VM.
        """
        running = [c for c in self._unit_containers(vnf=vnf_instance_id) if c["State"]["Status"] == "running"]
        if not running:
            raise VimError(f"VNF instance {vnf_instance_id} has no running container on the docker VIM")
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(running)) as pool:
            samples = list(pool.map(self._container_metrics, running))
        return {"vm_cpu_perc": round(sum(s["vm_cpu_perc"] for s in samples) / len(samples), 2),
                "vm_mem_perc": round(sum(s["vm_mem_perc"] for s in samples) / len(samples), 2),
                "vm_net_rx_MB": round(sum(s["vm_net_rx_MB"] for s in samples), 4),
                "vm_net_tx_MB": round(sum(s["vm_net_tx_MB"] for s in samples), 4)}

    def _container_metrics(self, container: dict[str, Any]) -> dict[str, float]:
        with _docker_errors(f"reading stats of container {container['Name'].lstrip('/')}"):
            sample = self._client.api.stats(container["Id"], stream=False)
        return container_metrics(sample, container["HostConfig"].get("NanoCpus") or 0)

    # --- Docker object helpers ----------------------------------------------------------------
    def _unit_summaries(self, **labels: str) -> list[dict[str, Any]]:
        """Container list entries (``Id``, ``Names``, ``Labels``, ``State``) owned by this driver
        with these labels (any state)."""
        with _docker_errors("listing containers"):
            return self._client.api.containers(all=True, filters=self._labels.selector(role=ROLE_UNIT, **labels))

    def _unit_containers(self, **labels: str) -> list[dict[str, Any]]:
        """Inspected containers owned by this driver with these labels (any state)."""
        summaries = self._unit_summaries(**labels)
        with _docker_errors("inspecting containers"):
            inspected = []
            for summary in summaries:
                with contextlib.suppress(docker.errors.NotFound):  # removed meanwhile
                    inspected.append(self._client.api.inspect_container(summary["Id"]))
        return inspected

    def _remove_containers(self, containers: Iterable[dict[str, Any]]) -> list[str]:
        """Force-remove containers, inspected or list entries (gone ones are fine); raises after
        trying them all."""
        removed, errors = [], []
        for container in containers:
            name = (container.get("Name") or (container.get("Names") or [container["Id"]])[0]).lstrip("/")
            try:
                with self._removal_slots, _docker_errors(f"removing container {name}"):
                    self._client.api.remove_container(container["Id"], force=True, v=True)
                removed.append(name)
            except VimError as exc:
                cause = exc.__cause__
                if isinstance(cause, docker.errors.NotFound) or getattr(cause, "status_code", None) == 409:
                    continue  # gone, or its removal is already in progress
                errors.append(str(exc))
        if errors:
            raise VimError("; ".join(errors))
        return removed

    def _vnf_lock(self, vnf_instance_id: str) -> threading.Lock:
        """The lock of one VNF instance (kept for the driver's life: a few bytes per VNF)."""
        with self._lock:
            return self._vnf_locks.setdefault(vnf_instance_id, threading.Lock())

    # --- capacity -----------------------------------------------------------------------------
    def _reserve(self, deployment: VnfDeployment, *, force: bool = False) -> None:
        """Reserve the VNF's requested cores and memory on its PoP (``force``: even beyond capacity)."""
        with self._lock:
            pop = self._pops.get(deployment.pop)
            if pop is None:
                raise VimError(f"unknown PoP {deployment.pop!r}; known: {', '.join(sorted(self._pops))}")
            if deployment.vnf_instance_id in self._demand:
                return
            cores, memory = deployment.vcpus, deployment.memory_gb
            if not force and cores > pop.cores_free + _EPSILON:
                raise CapacityError(f"PoP {pop.name} ({pop.vim_uuid}) has {pop.cores_free:g} free cores; "
                                    f"{deployment.vnf_name} needs {cores:g}")
            if not force and memory > pop.memory_free + _EPSILON:
                raise CapacityError(f"PoP {pop.name} ({pop.vim_uuid}) has {pop.memory_free:g} GB free memory; "
                                    f"{deployment.vnf_name} needs {memory:g} GB")
            self._pops[pop.vim_uuid] = dataclasses.replace(pop, core_used=pop.core_used + cores,
                                                           memory_used=pop.memory_used + memory)
            self._demand[deployment.vnf_instance_id] = (pop.vim_uuid, cores, memory)

    def _release(self, vnf_instance_id: str) -> str | None:
        """Give back a VNF's reservation; returns its PoP (None if it held none)."""
        with self._lock:
            self._deployed.pop(vnf_instance_id, None)
            demand = self._demand.pop(vnf_instance_id, None)
            if demand is None:
                return None
            pop_id, cores, memory = demand
            pop = self._pops[pop_id]
            self._pops[pop_id] = dataclasses.replace(pop, core_used=max(0.0, pop.core_used - cores),
                                                     memory_used=max(0.0, pop.memory_used - memory))
            return pop_id

    # --- reconciliation -----------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Match Docker objects (by label) against the records: remove orphans, adopt the live.

        A VNF's containers are orphans when the store has no live VNFR (``vim: docker``, not
        TERMINATED) for it; a service network when no live VNFR or live service record names
        its service. Objects this driver made or adopted itself are never orphans. Without a
        store nothing can be proven orphaned: every labelled VNF is adopted, nothing removed.
        Docker objects are listed *before* the driver's own state is read, so a deployment
        running concurrently is never mistaken for an orphan.
        """
        live = self._live_records()
        containers = self._unit_containers()
        networks = self._service_networks()
        by_vnf: dict[str, list[dict[str, Any]]] = {}
        for container in containers:
            by_vnf.setdefault(container["Config"]["Labels"].get(self._labels.vnf, ""), []).append(container)
        removed_containers: list[str] = []
        adopted: list[str] = []
        errors: list[str] = []
        for vnf_id, group in sorted(by_vnf.items()):
            try:
                if self._reconcile_vnf(vnf_id, group, None if live is None else live[0], removed_containers):
                    adopted.append(vnf_id)
            except VimError as exc:
                errors.append(f"VNF {vnf_id}: {exc}")
        removed_networks = self._reconcile_networks(networks, None if live is None else live[1], errors)
        missing = sorted(set(live[0]) - set(by_vnf)) if live is not None else []
        report = ReconcileReport(tuple(removed_containers), tuple(removed_networks), tuple(adopted),
                                 tuple(missing), tuple(errors))
        level = logging.WARNING if removed_containers or removed_networks or errors else logging.INFO
        log.log(level, "docker VIM reconciled: %s", report.to_dict())
        return report

    def _live_records(self) -> tuple[set[str], set[str]] | None:
        """(live VNF ids, live service ids) from the store; None without a store."""
        if self._store is None:
            return None
        vnfrs = self._store.vnfr.find({"vim": "docker", "vnf_state": {"$ne": "TERMINATED"}})
        vnfs = {v.id for v in vnfrs}
        services = {v.service_id for v in vnfrs if v.service_id}
        service_records = getattr(self._store, "services", None)
        if service_records is not None:
            services |= {s.id for s in service_records.find({"state": {"$nin": list(_LIVE_SERVICE_EXCLUDES)}})}
        return vnfs, services

    def _reconcile_vnf(self, vnf_id: str, containers: list[dict[str, Any]], live_vnfs: set[str] | None,
                       removed: list[str]) -> bool:
        """Adopt a live unknown VNF (True) or remove an orphan's containers (appended to ``removed``)."""
        with self._vnf_lock(vnf_id):
            with self._lock:
                if vnf_id in self._demand:
                    return False  # this driver made or adopted it already
            if live_vnfs is None or vnf_id in live_vnfs:
                self._adopt(containers)
                return True
            removed.extend(self._remove_containers(containers))
            for pop_id in {c["Config"]["Labels"].get(self._labels.pop) for c in containers} - {None}:
                self._remove_pop_network_if_unused(pop_id)
            return False

    def _reconcile_networks(self, networks: list[dict[str, Any]], live_services: set[str] | None,
                            errors: list[str]) -> list[str]:
        """Remove orphan service networks and PoP networks no VNF uses; returns their names."""
        removed = []
        with self._lock:
            known = set(self._services)
        with self._network_lock:
            for net in networks:
                service_id = (net.get("Labels") or {}).get(self._labels.service, "")
                if live_services is None or service_id in live_services or service_id in known:
                    with self._lock:
                        self._services.add(service_id)
                    continue
                try:
                    if self._remove_network(net["Id"]):
                        removed.append(net["Name"])
                except VimError as exc:
                    errors.append(f"network {net['Name']}: {exc}")
            for net in self._list_pop_networks():
                if self._remove_pop_network_if_unused(self._pop_of(net)):
                    removed.append(net["Name"])
        return removed

    def _adopt(self, containers: list[dict[str, Any]]) -> DeployedVnf:
        """Register running (or failed) containers of one VNF: reserve their capacity, even beyond it."""
        labels = containers[0]["Config"]["Labels"]
        units = tuple(UnitRequest(id=c["Config"]["Labels"][self._labels.vdu], image=c["Config"]["Image"],
                                  vcpus=float(c["Config"]["Labels"].get(self._labels.vcpus) or 0),
                                  memory_gb=float(c["Config"]["Labels"].get(self._labels.memory_gb) or 0),
                                  kind=c["Config"]["Labels"].get(self._labels.unit_kind) or "vm")
                      for c in containers)
        deployment = VnfDeployment(service_id=labels.get(self._labels.service, ""),
                                   vnf_instance_id=labels[self._labels.vnf],
                                   vnf_name=labels.get(self._labels.vnf_name, ""),
                                   pop=labels[self._labels.pop], units=units)
        if deployment.pop not in self._pops:
            raise VimError(f"VNF {deployment.vnf_instance_id} runs on PoP {deployment.pop!r}, "
                           "which is not in this driver's topology")
        self._reserve(deployment, force=True)
        deployed = DeployedVnf(deployment.vnf_instance_id, deployment.pop,
                               tuple(self._deployed_unit(c) for c in containers))
        with self._lock:
            self._deployed[deployment.vnf_instance_id] = deployed
        log.info("adopted VNF %s (%d containers) on %s", deployment.vnf_instance_id, len(containers), deployment.pop)
        return deployed


# --- pure helpers -------------------------------------------------------------------------------
def _run_all(fn: Any, jobs: Sequence[tuple[Any, ...]]) -> list[tuple[Any, Exception | None]]:
    """``fn(*job)`` for every job concurrently; ``(result, None)`` or ``(None, error)`` each, in order."""
    if not jobs:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="docker") as pool:
        futures = [pool.submit(fn, *job) for job in jobs]
    outcomes: list[tuple[Any, Exception | None]] = []
    for future in futures:
        try:
            outcomes.append((future.result(), None))
        except Exception as exc:  # noqa: BLE001 - the caller cleans up, then raises the first
            outcomes.append((None, exc))
    return outcomes

def _all_running(containers: Iterable[dict[str, Any]]) -> bool:
    return all(c["State"]["Status"] == "running" for c in containers)


def _subnet_of(network: dict[str, Any]) -> str:
    configs = (network.get("IPAM") or {}).get("Config") or []
    return next((c["Subnet"] for c in configs if c.get("Subnet")), "")


def container_metrics(sample: Mapping[str, Any], nano_cpus: int) -> dict[str, float]:
    """One container's SONATA metrics from a ``docker stats`` sample (``stream=False``).

    cpu % = cores used / cores allowed (its limit, or all host cores without one); memory % =
    usage without the page cache / limit, as ``docker stats`` computes it; network in MiB.
    """
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cores_used = cpu_delta / system_delta * online if system_delta > 0 and cpu_delta > 0 else 0.0
    cores_allowed = nano_cpus / 1e9 if nano_cpus else online
    memory = sample.get("memory_stats") or {}
    details = memory.get("stats") or {}
    cache = details.get("inactive_file", details.get("total_inactive_file", details.get("cache", 0)))
    used, limit = max(0, memory.get("usage", 0) - cache), memory.get("limit") or 0
    interfaces = (sample.get("networks") or {}).values()
    return {"vm_cpu_perc": 100.0 * cores_used / cores_allowed,
            "vm_mem_perc": 100.0 * used / limit if limit else 0.0,
            "vm_net_rx_MB": sum(i.get("rx_bytes", 0) for i in interfaces) / _MIB,
            "vm_net_tx_MB": sum(i.get("tx_bytes", 0) for i in interfaces) / _MIB}
