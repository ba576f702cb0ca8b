"""The one place where mano reads its configuration.

Every tunable is a field of :class:`Settings` with a documented default. Values come from
``MANO_*`` environment variables, read only by :meth:`Settings.from_env` (never at import
time), and the resulting frozen object is passed explicitly to whatever needs it.

| variable                  | default                                      | meaning                                   |
|---------------------------|----------------------------------------------|-------------------------------------------|
| MANO_HOME                 | ~/.mano                                      | state dir: embedded store, runtime info   |
| MANO_MONGO_URL            | (unset: start the embedded nx-27017 server)  | MongoDB URL of the record store           |
| MANO_MONGO_DB             | mano                                         | database name                             |
| MANO_STORE_BIND           | (unset: 127.0.0.1, this machine only)        | address the embedded store listens on, so |
|                           |                                              | a cluster's other nodes reach it: an      |
|                           |                                              | address of this machine, or 0.0.0.0 (the  |
|                           |                                              | URL then names this machine's address)    |
| MANO_STORE_NODE           | (never read: the control plane sets it)      | the Ray node a published loopback store   |
|                           |                                              | URL belongs to; actors elsewhere refuse it|
| MANO_BROKER_URL           | amqp://guest:guest@localhost:5672/%2F        | RabbitMQ for the gateway                  |
| MANO_EXCHANGE             | son-kernel                                   | SONATA topic exchange                     |
| MANO_EXCHANGE_DURABLE     | 0                                            | declare it durable (keeps bindings over a |
|                           |                                              | broker restart; the gatekeeper must agree)|
| MANO_RAY_ADDRESS          | (unset: embedded local Ray, never one found  | join this Ray cluster (HOST:PORT of its   |
|                           | through RAY_ADDRESS)                         | head) or fail saying why                  |
| MANO_CONTROL_PLANE_NODE   | head                                         | where the plugin actors run on a Ray      |
|                           |                                              | cluster: head (its head node) or any      |
|                           |                                              | (where Ray schedules them); instances are |
|                           |                                              | spread over the nodes (mano/lifecycle/nodes) |
| MANO_DEFAULT_VIM          | emulated                                     | VIM driver: emulated or docker            |
| MANO_TOPOLOGY             | (unset: packaged 3-PoP topology)             | topology YAML for the emulated VIM        |
| MANO_IDLE_PASSIVATE_S     | 30                                           | idle seconds before an instance passivates|
| MANO_STEP_TIMEOUT_S       | 60                                           | limit for one workflow step               |
| MANO_LEASE_TTL_S          | 10                                           | instance lease time to live: how long a   |
|                           |                                              | crashed or cut-off activation blocks its  |
|                           |                                              | instance before another may take over     |
| MANO_MAX_DESCRIPTOR_BYTES | 1048576                                      | largest descriptor / message accepted     |
| MANO_STORE_TIMEOUT_MS     | 5000                                         | store server selection / socket timeout   |
| MANO_DASHBOARD            | 1                                            | start the Ray dashboard (localhost only)  |
| MANO_HEARTBEAT_S          | 2                                            | plugin heartbeat period                   |
| MANO_PLACEMENT_TIMEOUT_S  | 10                                           | placement answer limit before first fit   |
| MANO_PLACEMENT_POLICY     | load balanced                                | operator placement policy for requests    |
|                           |                                              | naming none: load balanced, fill first,   |
|                           |                                              | priority, none                            |
| MANO_PLACEMENT_BUDGET_S   | 1                                            | placement engine's time budget: the best  |
|                           |                                              | mapping found by then is the answer       |
| MANO_PLACEMENT_SOLVER     | auto                                         | the engine's solver: auto (by predicted   |
|                           |                                              | time), exact (the MILP, cancelled at the  |
|                           |                                              | budget's end; the search's answer if it   |
|                           |                                              | is not done), fast, exhaustive            |
| MANO_PLACEMENT_PLUGIN     | (unset: mano's own)                          | an external placement plugin's registered |
|                           |                                              | name (e.g. son-plugin.PlacementPlugin):   |
|                           |                                              | while it is RUNNING, placements go to it  |
|                           |                                              | on mano.service.place                     |
| MANO_PLACEMENT_FANOUT_FROM_POPS | 50                                     | substrates this large or larger fan the   |
|                           |                                              | search's starts out as Ray tasks (below:  |
|                           |                                              | in the plugin; 0: never fan out)          |
| MANO_VNF_ACTORS           | per-instance                                 | per-instance: new VNFs are deployed on    |
|                           |                                              | pre-started hosts (when the pool has      |
|                           |                                              | them); on-demand: VNF actors start only   |
|                           |                                              | for heal and status. Either way lifecycle |
|                           |                                              | work never waits for an actor to start:   |
|                           |                                              | VNFs without a live actor run in the FLM  |
| MANO_SPARE_SERVICE_ACTORS | 2                                            | pre-started service hosts kept ready for  |
|                           |                                              | new services (service-host-<hex>; 0: none)|
| MANO_SPARE_VNF_ACTORS     | 3                                            | the same for VNFs (vnf-host-<hex>)        |
| MANO_BURST_IN_SLM         | 1                                            | under a burst (no host left), the SLM     |
|                           |                                              | runs operations itself instead of waiting |
|                           |                                              | for a new service actor's process         |
| MANO_MONITORING_PERIOD_S  | 5                                            | health/rule check period; 0 turns it off  |
| MANO_SLM_THREADS          | 16                                           | operations the SLM runs itself at once    |
|                           |                                              | (under a burst, mano/lifecycle/hosting.py)|
| MANO_FLM_THREADS          | 32                                           | VNF calls the FLM runs itself at once     |
| MANO_RECOVERY_PERIOD_S    | 2                                            | how often the SLM looks for operations    |
|                           |                                              | that no activation runs                   |
| MANO_SPARE_REFILL_DELAY_S | 1                                            | pause before a host pool refills          |
| MANO_SPARE_IDLE_CPU_PERCENT | 60                                         | the pools refill only below this machine  |
|                           |                                              | CPU use (refills must not slow real work) |
| MANO_DOCKER_IMAGES        | (unset: every VDU runs the busybox image)    | YAML map vm_image -> local Docker image   |
| MANO_API_ADDR             | 127.0.0.1:8080                               | where `mano up --api` serves the SOL005   |
|                           |                                              | HTTP API (loopback: no caller is          |
|                           |                                              | authenticated yet)                        |
| MANO_IA_BROKER_URL        | (unset: MANO_BROKER_URL)                     | the broker of SONATA's infrastructure     |
|                           |                                              | adaptor, for vim="sonata-ia"              |
| MANO_IA_TIMEOUT_S         | 20                                           | how long a call waits for its reply       |
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Mapping

DEFAULT_BROKER_URL = "amqp://guest:guest@localhost:5672/%2F"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :meth:`from_env` or directly in tests."""

    home: Path = dataclasses.field(default_factory=lambda: Path.home() / ".mano")
    mongo_url: str | None = None
    mongo_db: str = "mano"
    store_bind: str | None = None  # None: the embedded store listens on loopback only
    # Set by the control plane, never from the environment: the Ray node on whose loopback the
    # published ``mongo_url`` is (None: the URL is not a loopback one, any node may use it).
    store_node: str | None = None
    broker_url: str = DEFAULT_BROKER_URL
    exchange: str = "son-kernel"
    exchange_durable: bool = False  # SONATA declares son-kernel non-durable; both sides must agree
    ray_address: str | None = None
    control_plane_node: str = "head"  # "head" | "any" (mano/lifecycle/nodes.py)
    default_vim: str = "emulated"
    topology: Path | None = None
    idle_passivate_s: float = 30.0
    step_timeout_s: float = 60.0
    lease_ttl_s: float = 10.0
    max_descriptor_bytes: int = 1024 * 1024
    store_timeout_ms: int = 5000
    dashboard: bool = True
    heartbeat_s: float = 2.0
    placement_timeout_s: float = 10.0
    placement_budget_s: float = 1.0
    placement_solver: str = "auto"
    # Below 50 PoPs a placement takes milliseconds: tasks would cost more than they save.
    placement_fanout_from_pops: int = 50
    placement_policy: str = "load balanced"
    # An external placement plugin's registered name: it places while it runs (None: mano's own).
    placement_plugin: str | None = None
    vnf_actors: str = "per-instance"
    spare_service_actors: int = 2
    spare_vnf_actors: int = 3
    burst_in_slm: bool = True
    monitoring_period_s: float = 5.0
    slm_threads: int = 16
    flm_threads: int = 32
    recovery_period_s: float = 2.0
    # Long enough for the request that took a host to finish its own work (an instantiation
    # on hosts: ~0.3 s), short enough that requests a few seconds apart all find hosts.
    spare_refill_delay_s: float = 1.0
    spare_idle_cpu_percent: float = 60.0
    docker_images: Path | None = None
    # The SOL005 HTTP API of `mano up --api` (mano/rest): loopback until callers are authenticated.
    api_addr: str = "127.0.0.1:8080"
    # The "sonata-ia" VIM driver: SONATA's infrastructure adaptor on this broker (None: broker_url)
    # and exchange, and how long a call waits for its reply (SONATA's call_sync: 20 s).
    ia_broker_url: str | None = None
    ia_timeout_s: float = 20.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read ``MANO_*`` variables (from ``environ``, default ``os.environ``); overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            if field.name in _NOT_FROM_ENV:
                continue
            raw = env.get(f"MANO_{field.name.upper()}")
            if raw is None or raw == "":
                continue
            values[field.name] = _convert(field.name, field.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def store_dir(self) -> Path:
        """Where the embedded store keeps its SQLite files."""
        return self.home / "store"


_NOT_FROM_ENV = frozenset({"store_node"})


def _convert(name: str, annotation: object, raw: str) -> object:
    text = str(annotation)
    try:
        if text.startswith("bool"):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if "Path" in text:
            return Path(raw).expanduser()
        if text.startswith("int"):
            return int(raw)
        if text.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"MANO_{name.upper()}={raw!r} is not a valid {text}") from exc
    return raw
