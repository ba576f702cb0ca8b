"""The in-process implementation of the port: SMs as objects in this process (no Ray, no Docker).

:class:`LocalSpecificManagers` is the :class:`~mano.lifecycle.sm_port.SpecificManagers` port over a
:class:`~mano.sm.registry.RegistryCore` whose Python runner is :class:`InProcessRunner`. It is
what unit tests (and the lifecycle harness) use; the contract, the records and the outcomes
are exactly those of the SMR actor.

The in-process runner cannot kill a hung hook: a call that times out leaves its (daemon)
thread behind and the instance is forgotten. Only the in-Ray runner really kills.
"""
from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from mano.sm.config import SmrConfig
from mano.sm.discovery import RunnerKind
from mano.sm.registry import RegistryCore, RegistryPort
from mano.sm.runner import Runner, SmCallTimeout, SmInstanceName, SmLaunch, SmStartError, SmUnavailable
from ssm.runtime import PING, SmLoadError, SmRuntime

__all__ = ["InProcessRunner", "LocalSpecificManagers"]


class InProcessRunner:
    """Runs ``python://`` SMs as objects of this process; each call on its own daemon thread."""

    def __init__(self, config: SmrConfig | None = None):
        self._config = config or SmrConfig()
        self._lock = threading.Lock()
        self._instances: dict[str, SmRuntime] = {}

    def start(self, launch: SmLaunch, *, timeout: float) -> None:
        try:
            runtime = SmRuntime.load(launch.image, launch.context(), extra_sys_path=self._config.python_path)
        except SmLoadError as exc:
            raise SmStartError(str(exc)) from None
        with self._lock:
            self._instances[launch.name] = runtime
        self.call(launch, {"ssm_type": PING, "fsm_type": PING}, timeout=timeout)

    def call(self, launch: SmLaunch, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        with self._lock:
            runtime = self._instances.get(launch.name)
        if runtime is None:
            raise SmUnavailable(f"{launch.name} is not running")
        box: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            box["reply"] = runtime.handle(body)
            done.set()
        threading.Thread(target=run, name=f"sm-call-{launch.sm_id}", daemon=True).start()
        if not done.wait(timeout):
            raise SmCallTimeout(f"{launch.name}: no answer within {timeout:g} s")
        return box["reply"]

    def alive(self, launch: SmLaunch) -> bool:
        with self._lock:
            return launch.name in self._instances

    def stop(self, launch: SmLaunch) -> None:
        self.stop_instance(launch.instance)

    def running(self) -> list[SmInstanceName]:
        with self._lock:
            names = list(self._instances)
        return [n for n in map(SmInstanceName.parse, names) if n is not None]

    def stop_instance(self, instance: SmInstanceName) -> None:
        with self._lock:
            runtime = self._instances.pop(instance.name, None)
        if runtime is not None:
            threading.Thread(target=runtime.stop, daemon=True).start()  # on_stop may block


class LocalSpecificManagers(RegistryPort):
    """The :class:`~mano.lifecycle.sm_port.SpecificManagers` port, in process (see the module doc).

    Args:
        store: the record store.
        config: registry tunables.
        runners: replace or add runners (e.g. a container runner) by image kind.
    """

    def __init__(self, store: Any, config: SmrConfig | None = None,
                 runners: Mapping[RunnerKind, Runner] | None = None):
        config = config or SmrConfig()
        self.runners: dict[RunnerKind, Runner] = {RunnerKind.PYTHON: InProcessRunner(config)}
        self.runners.update(runners or {})
        self.core = RegistryCore(store, self.runners, config)
