"""Starting, finding and stopping mano's control plane (the plugin actors) on a Ray cluster.

Where it runs (:mod:`mano.cluster.connection`): with ``settings.ray_address`` (``MANO_RAY_ADDRESS``,
``mano up --address``) on that cluster, joined with Ray's token authentication, or an error
naming the address and the reason; without one on an embedded Ray this process starts, never
on a cluster it finds through ``RAY_ADDRESS`` or Ray's current-cluster file.

``start`` creates each singleton plugin actor unless it exists (detached, ``get_if_exists``), so
a second process on the same cluster attaches to the running control plane instead of starting
another, and waits until every one answers. An actor that Ray is restarting is asked again until
``start``'s deadline: attaching while a plugin restarts is not a failure.

Who stops what: ``stop`` (``mano.shutdown()``) stops the control plane only when this process
started it (on the embedded Ray it started, or as the first on a cluster it joined); otherwise it
only disconnects, and a ``mano up`` daemon's or another process's control plane keeps running,
the gateway included.
``stop_control_plane`` kills mano's actors wherever they run and leaves the cluster up: the
daemon calls it for ``mano down``.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator, Sequence

import ray

from actors import calls, naming
from mano.cluster import connection as cluster
from mano.lifecycle import nodes
from mano.lifecycle import waiting
from actors.flm import FunctionLifecycleManager
from actors.infrastructure import InfrastructureAdaptor
from actors.monitoring import Monitoring
from actors.placement import PlacementExecutive, PlacementPlugin
from actors.plugin_manager import PluginManager
from actors.slm import ServiceLifecycleManagerActor
from actors.smr import SpecificManagerRegistry
from mano.errors import StoreError
from mano.settings import Settings
from mano.store.boundary import redact_url
from mano.store.client import is_loopback_url, published
from mano.lifecycle.vim_port import Pop

log = logging.getLogger(__name__)

_created_control_plane = False  # whether start() in this process created the plugin actors

SINGLETONS = (
    (naming.PLUGIN_MANAGER, PluginManager),
    (naming.INFRASTRUCTURE, InfrastructureAdaptor),
    (naming.PLACEMENT, PlacementPlugin),
    (naming.PLACEMENT_EXECUTIVE, PlacementExecutive),
    (naming.FLM, FunctionLifecycleManager),
    (naming.SLM, ServiceLifecycleManagerActor),
    (naming.MONITORING, Monitoring),
    (naming.SMR, SpecificManagerRegistry),
)


def init_ray(settings: Settings) -> None:
    """Join ``settings.ray_address`` (or fail with a ClusterError), else start an embedded Ray."""
    cluster.connect(settings, naming.NAMESPACE)


def start(settings: Settings, *, pops: Sequence[Pop] | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
    """Start (or attach to) the runtime's plugin actors; return their handles by name once each
    has answered. One that is unavailable (Ray restarts it, or it died) is looked up or created
    again and asked again until ``timeout_s``."""
    init_ray(settings)
    settings = _with_published_store(settings)
    global _created_control_plane
    if not calls.actor_exists(naming.PLUGIN_MANAGER, naming.NAMESPACE):
        _created_control_plane = True  # this process brings the control plane up: it is its to stop
    where = nodes.control_plane(settings)
    deadline = time.monotonic() + timeout_s
    handles: dict[str, Any] = {}
    waiting_for = list(SINGLETONS)
    pause_s = 0.1
    while True:
        for name, cls in waiting_for:
            args: tuple[Any, ...] = (settings, list(pops) if pops else None) if cls is InfrastructureAdaptor \
                else (settings,)
            handles[name] = calls.create(cls, *args, where=where, name=name, namespace=naming.NAMESPACE,
                                         lifetime="detached", get_if_exists=True)
        pings = [(name, cls, calls.tell(handles[name], "ping")) for name, cls in waiting_for]
        unavailable = []
        for name, cls, ping in pings:
            try:
                calls.get(ping, timeout=max(0.0, deadline - time.monotonic()), what=f"runtime start: {name}")
            except calls.ActorUnavailable:
                unavailable.append((name, cls))
        if not unavailable:
            return handles
        names = ", ".join(name for name, _ in unavailable)
        if time.monotonic() + pause_s >= deadline:
            raise calls.ActorTimeout(f"runtime start: {names} still unavailable after {timeout_s:g} s")
        log.info("runtime start: %s unavailable (restarting?), asking again", names)
        time.sleep(pause_s)
        pause_s = min(1.0, pause_s * 2)
        waiting_for = unavailable


def _with_published_store(settings: Settings) -> Settings:
    """The settings every actor is created with: the control plane's store URL (never none: an
    actor never starts a store of its own), a loopback one tied to this process's node."""
    if not settings.mongo_url:
        raise StoreError("the control plane starts only with its store's URL (mano.init() resolves it: "
                         "MANO_MONGO_URL or the embedded store it started)")
    if settings.store_node is None and settings.store_bind is None and is_loopback_url(settings.mongo_url):
        settings = published(settings, settings.mongo_url)
    if settings.store_node is not None and not cluster.started_here():
        others = sum(1 for node in ray.nodes() if node.get("Alive") and node.get("NodeID") != settings.store_node)
        if others:
            log.warning("the record store %s is a loopback address of this node: every mano actor stays on this "
                        "node (mano/lifecycle/nodes.py), the cluster's %d other node(s) run none; set MANO_STORE_BIND "
                        "or MANO_MONGO_URL to spread the instances", redact_url(settings.mongo_url), others)
    return settings


def handle(name: str) -> Any:
    return calls.named(name)()


def call(name: str, method: str, *args: Any, timeout: float | None = 60.0, **kwargs: Any) -> Any:
    """Call a plugin actor by name (the public API's only way into the actors)."""
    return calls.call(lambda: handle(name), method, *args, timeout=timeout, **kwargs)


def wait_on_operation(service_id: str, operation_id: str, timeout_s: float | None) -> bool:
    """Block until the operation is final on the actor that runs it: the service actor if it
    is active, else the SLM (which runs operations itself in a burst). False if neither could
    tell (see :func:`mano.lifecycle.waiting.wait_for_operation`): the caller then polls the record."""
    def waiters() -> Iterator[Any]:  # looked up only when the one before could not tell
        for name in (naming.service_actor(service_id), naming.SLM):
            try:
                yield handle(name)  # never activates a passivated service
            except ValueError:
                pass
    return waiting.wait_for_operation(waiters(), operation_id, timeout_s, ask=calls.ask)


def actor_names() -> list[str]:
    return sorted(calls.actor_names(naming.NAMESPACE))


def stop_control_plane() -> None:
    """Kill every mano actor on the cluster this process is connected to (records stay in the
    store); the cluster itself keeps running."""
    if not ray.is_initialized():
        return
    for name in actor_names():
        if (found := calls.lookup(name)) is not None:
            calls.kill(found)


def stop() -> None:
    """Leave the runtime: stop the control plane if this process started it (the embedded
    runtime, or the first process to bring it up on a cluster it joined: a script run with
    ``MANO_RAY_ADDRESS`` leaves no actors behind), and Ray if it started that; else only
    disconnect (a ``mano up`` daemon's control plane keeps running)."""
    global _created_control_plane
    if cluster.started_here() or _created_control_plane:
        stop_control_plane()
    _created_control_plane = False
    cluster.disconnect()
