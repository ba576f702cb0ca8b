"""Starting, finding and stopping the mano actors on a Ray cluster.

``start`` joins ``settings.ray_address`` or starts an embedded local Ray, then creates each
singleton plugin actor unless it exists (``get_if_exists``), so a second process on the same
cluster attaches to the running runtime instead of starting another.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Iterator, Sequence

import ray

from actors import calls, naming, waiting
from actors.flm import FunctionLifecycleManager
from actors.infrastructure import InfrastructureAdaptor
from actors.monitoring import Monitoring
from actors.placement import PlacementExecutive, PlacementPlugin
from actors.plugin_manager import PluginManager
from actors.slm import ServiceLifecycleManagerActor
from actors.smr import SpecificManagerRegistry
from mano.errors import ManoError
from mano.settings import Settings
from mano.lifecycle.vim_port import Pop

log = logging.getLogger(__name__)

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


_dashboard_url: str | None = None


def init_ray(settings: Settings) -> None:
    global _dashboard_url
    if ray.is_initialized():
        return
    # The embedded Ray inherits this process's environment; keep its chatter out of the user's terminal.
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"namespace": naming.NAMESPACE, "logging_level": logging.ERROR,
                              "log_to_driver": False, "configure_logging": True}
    if settings.ray_address:
        context = ray.init(address=settings.ray_address, **kwargs)
    else:
        context = ray.init(include_dashboard=settings.dashboard, dashboard_host="127.0.0.1", **kwargs)
    _dashboard_url = context.dashboard_url or None


def dashboard_url() -> str | None:
    """The dashboard of the Ray this process started or joined (None: no dashboard, or no Ray yet)."""
    return _dashboard_url


def start(settings: Settings, *, pops: Sequence[Pop] | None = None, timeout_s: float = 60.0) -> dict[str, Any]:
    """Start (or attach to) the runtime's plugin actors; return their handles by name."""
    init_ray(settings)
    handles = {}
    for name, cls in SINGLETONS:
        args: tuple[Any, ...] = (settings, list(pops) if pops else None) if cls is InfrastructureAdaptor else (settings,)
        handles[name] = calls.create(cls, *args, name=name, namespace=naming.NAMESPACE, lifetime="detached",
                                     get_if_exists=True)
    calls.get([calls.tell(h, "ping") for h in handles.values()], timeout=timeout_s, what="runtime start")
    return handles


def handle(name: str) -> Any:
    return calls.named(name)()


def call(name: str, method: str, *args: Any, timeout: float | None = 60.0, **kwargs: Any) -> Any:
    """Call a plugin actor by name (the public API's only way into the actors)."""
    return calls.call(lambda: handle(name), method, *args, timeout=timeout, **kwargs)


def wait_on_operation(service_id: str, operation_id: str, timeout_s: float | None) -> bool:
    """Block until the operation is final on the actor that runs it: the service actor if it
    is active, else the SLM (which runs operations itself in a burst). False if neither could
    tell (see :func:`actors.waiting.wait_for_operation`): the caller then polls the record."""
    def waiters() -> Iterator[Any]:  # looked up only when the one before could not tell
        for name in (naming.service_actor(service_id), naming.SLM):
            try:
                yield handle(name)  # never activates a passivated service
            except ValueError:
                pass
    return waiting.wait_for_operation(waiters(), operation_id, timeout_s, ask=calls.ask)


def actor_names() -> list[str]:
    return sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                  if a.get("namespace") == naming.NAMESPACE)


def stop(*, shutdown_ray: bool = True) -> None:
    """Kill every mano actor (records stay in the store), then leave Ray."""
    global _dashboard_url
    if not ray.is_initialized():
        return
    for name in actor_names():
        try:
            ray.kill(handle(name), no_restart=True)
        except ValueError:
            pass
    if shutdown_ray:
        ray.shutdown()
        _dashboard_url = None
