"""The specific manager registry actor (SMR) and the in-Ray SM runner.

:class:`SpecificManagerRegistry` is a thin shell around :class:`mano.sm.registry.RegistryCore`
(the decisions) with two runners (DESIGN.md decision 8):

* :class:`RayRunner`: an image ``python://pkg.module:Class`` runs in its own Ray actor
  process, a :class:`SmHost` named ``sm:<service_id>:<sm_id>:v<version>`` in namespace
  ``mano`` (detached, ``num_cpus=0``, never restarted by Ray: a crashed SM is the registry's to
  handle). Calls are limited with ``ray.get`` timeouts; a host that does not answer in time is
  killed. The names let a restarted SMR find its SMs again and stop leaked ones.
* :class:`mano.sm.container.ContainerRunner`: any other image is a Docker container speaking
  AMQP, built on first use (if dockerd is unreachable, container SMs fail at start with why).

The SMR also runs the registry's clean-up pass every ``reconcile_period_s``: SMs of services
that are terminated, failed or gone are stopped, crashed SMs are marked FAILED.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import ray

from actors import calls, naming
from actors.plugin import PluginActor
from mano.lifecycle import nodes
from mano.errors import ManoError
from mano.settings import Settings
from mano.sm.config import SmrConfig
from mano.sm.discovery import RunnerKind
from mano.sm.registry import RegistryCore, RegistryPort
from mano.sm.runner import (
    LazyRunner,
    Runner,
    SmCallTimeout,
    SmInstanceName,
    SmLaunch,
    SmStartError,
    SmUnavailable,
)
from mano.store.client import connect
from ssm.models import SmContext
from ssm.runtime import PING, SmLoadError, SmRuntime

log = logging.getLogger(__name__)

_GRACEFUL_STOP_S = 1.0


@ray.remote(num_cpus=0, max_concurrency=4, max_restarts=0)
class SmHost:
    """Hosts one SM instance (a Python class) in its own worker process.

    Construction never fails: a class that cannot be loaded is reported by :meth:`ready`, so
    the registry records why instead of seeing a dead actor.
    """

    def __init__(self, image: str, context: dict[str, Any], extra_sys_path: list[str]):
        self._runtime: SmRuntime | None = None
        self._error: str | None = None
        try:
            self._runtime = SmRuntime.load(image, SmContext.model_validate(context),
                                           extra_sys_path=extra_sys_path)
        except SmLoadError as exc:
            self._error = str(exc)

    def ready(self) -> dict[str, Any]:
        if self._runtime is None:
            return {"ok": False, "error": self._error}
        return {"ok": True, "identity": self._runtime.identity()}

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        if self._runtime is None:
            return {"status": "ERROR", "error": f"bad request: SM not loaded ({self._error})"}
        return self._runtime.handle(body)

    def shutdown(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()


class RayRunner:
    """Runs ``python://`` SMs as :class:`SmHost` actors (see the module doc)."""

    def __init__(self, config: SmrConfig):
        self._config = config

    @staticmethod
    def _handle(name: str) -> Any | None:
        return calls.lookup(name)

    def start(self, launch: SmLaunch, *, timeout: float) -> None:
        options = {"name": launch.name, "namespace": naming.NAMESPACE, "lifetime": "detached",
                   "get_if_exists": True}
        handle = calls.create(SmHost, launch.image, launch.context().model_dump(mode="json"),
                              list(self._config.python_path), where=nodes.sm_hosts(), **options)
        try:
            info = calls.ask(handle, "ready", timeout=timeout, what=f"{launch.name}.ready")
        except ManoError as exc:
            calls.kill(handle)
            raise SmStartError(f"did not start: {exc}") from None
        if not info.get("ok"):
            calls.kill(handle)
            raise SmStartError(str(info.get("error")))
        log.info("SM host %s ready: %s", launch.name, info.get("identity"))

    def call(self, launch: SmLaunch, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        handle = self._handle(launch.name)
        if handle is None:
            raise SmUnavailable(f"{launch.name} is not running")
        try:
            return calls.ask(handle, "handle", body, timeout=timeout, what=launch.name)
        except calls.ActorTimeout:
            raise SmCallTimeout(f"{launch.name}: no answer within {timeout:g} s") from None
        except calls.ActorUnavailable as exc:
            raise SmUnavailable(str(exc)) from None
        except ManoError as exc:  # the host itself failed (it never raises for the SM)
            raise SmUnavailable(f"{launch.name}: {exc}") from None

    def alive(self, launch: SmLaunch) -> bool:
        handle = self._handle(launch.name)
        if handle is None:
            return False
        try:
            ping = {"ssm_type": PING, "fsm_type": PING}
            calls.ask(handle, "handle", ping, timeout=5.0, what=launch.name)
        except calls.ActorUnavailable:
            return False
        except ManoError:
            return True  # busy (a long hook): alive; a hung one is caught by its call's timeout
        return True

    def stop(self, launch: SmLaunch) -> None:
        handle = self._handle(launch.name)
        if handle is not None:
            try:  # on_stop, briefly; a hung SM is killed anyway
                calls.wait([calls.tell(handle, "shutdown")], timeout=_GRACEFUL_STOP_S)
            except Exception:  # noqa: BLE001
                pass
            calls.kill(handle)

    def running(self) -> list[SmInstanceName]:
        return [i for name in calls.actor_names(naming.NAMESPACE) if (i := SmInstanceName.parse(name)) is not None]

    def stop_instance(self, instance: SmInstanceName) -> None:
        handle = self._handle(instance.name)
        if handle is not None:
            calls.kill(handle)


def _container_runner(settings: Settings, config: SmrConfig) -> Runner:
    from mano.sm.container import ContainerRunner  # docker and pika only when container SMs are used

    return ContainerRunner(config, settings=settings)


@ray.remote(num_cpus=0, max_concurrency=32, max_restarts=-1)
class SpecificManagerRegistry(RegistryPort, PluginActor):
    plugin_name = naming.SMR
    plugin_description = "Specific manager registry: SSMs/FSMs in-Ray or in containers"

    def __init__(self, settings: Settings, config: SmrConfig | None = None):
        self._settings = settings
        self._config = config or SmrConfig.from_settings(settings)
        self._store = connect(settings, stop_embedded_on_exit=False)
        runners: dict[RunnerKind, Runner] = {RunnerKind.PYTHON: RayRunner(self._config)}
        if self._config.containers_enabled:
            self._containers = LazyRunner(lambda: _container_runner(settings, self._config),
                                          "container runner")
            runners[RunnerKind.CONTAINER] = self._containers
        self.core = RegistryCore(self._store, runners, self._config)
        self._start_plugin(settings)
        if self._config.reconcile_period_s > 0:
            threading.Thread(target=self._reconcile_loop, name="smr-reconcile", daemon=True).start()

    # --- inspection and clean-up: the port's methods are RegistryPort's, over this core ------
    def shutdown(self) -> None:
        """Close the container runner's gate, firewall rule and bus (SMs keep running; a new
        SMR finds them by name). Call before killing the actor for a clean exit."""
        containers = getattr(self, "_containers", None)
        if containers is not None:
            containers.close()

    def _reconcile_loop(self) -> None:
        while True:
            time.sleep(self._config.reconcile_period_s)
            try:
                done = self.core.reconcile()
                if any(done.values()):
                    log.info("SMR clean-up: %s", done)
            except Exception:  # noqa: BLE001 - the loop must survive store or docker outages
                log.warning("SMR clean-up pass failed", exc_info=True)
