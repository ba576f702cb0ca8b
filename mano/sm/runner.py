"""The runner interface: how the registry starts, calls and stops one SM instance.

Three implementations share it: the in-process runner (:mod:`mano.sm.local`, unit tests),
the in-Ray runner (``actors/smr.py``: one host actor per SM instance) and the container runner
(:mod:`mano.sm.container`: one Docker container speaking AMQP). The registry core
(:mod:`mano.sm.registry`) holds every decision; runners only do, and report failures with
the three exceptions below, which the core maps to outcomes and record states.

An SM *instance* is one generation of one SM: an update starts generation ``v<n+1>`` beside
``v<n>`` and stops the old one once the new one answers, so each instance has its own name
(:class:`SmInstanceName`), which is how a restarted registry finds its SMs again and how it
recognises leaked ones.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from mano.errors import ManoError
from mano.records import SpecificManagerRecord
from ssm.models import ManagerType, SmContext

__all__ = ["LazyRunner", "Runner", "SmCallTimeout", "SmInstanceName", "SmLaunch", "SmStartError",
           "SmUnavailable"]


class SmStartError(ManoError):
    """The SM could not be started (bad image or class, crash at start, never answered)."""


class SmCallTimeout(ManoError):
    """The SM did not answer within the limit."""


class SmUnavailable(ManoError):
    """The SM is not running (crashed, killed, never started)."""

    retryable = True


@dataclasses.dataclass(frozen=True)
class SmInstanceName:
    """``sm:<service_id>:<sm_id>:v<version>``: the name of one SM instance (actor or container).

    Service ids are uuids; sm ids may contain ``/`` (FSMs) but never ``:``, which descriptor ids
    do not use; parsing splits on the first and the last colon, so it round-trips either way.
    """

    service_id: str
    sm_id: str
    version: str

    PREFIX = "sm"

    @property
    def name(self) -> str:
        return f"{self.PREFIX}:{self.service_id}:{self.sm_id}:v{self.version}"

    @classmethod
    def parse(cls, name: str) -> SmInstanceName | None:
        """The name's parts, or None if it is not an SM instance name."""
        prefix, _, rest = name.partition(":")
        service_id, _, rest = rest.partition(":")
        sm_id, _, version = rest.rpartition(":")
        if prefix != cls.PREFIX or not service_id or not sm_id or not version.startswith("v"):
            return None
        return cls(service_id, sm_id, version[1:])


@dataclasses.dataclass(frozen=True)
class SmLaunch:
    """Everything a runner needs to start, call and stop one SM instance."""

    record_id: str
    service_id: str
    sm_id: str
    sm_type: ManagerType
    version: str
    image: str
    topic: str
    kinds: tuple[str, ...] = ()
    vnf_id: str | None = None
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def instance(self) -> SmInstanceName:
        return SmInstanceName(self.service_id, self.sm_id, self.version)

    @property
    def name(self) -> str:
        return self.instance.name

    def context(self) -> SmContext:
        """What the SM's constructor gets."""
        return SmContext(sm_id=self.sm_id, sm_type=self.sm_type, service_id=self.service_id,
                         vnf_id=self.vnf_id, kinds=self.kinds, options=dict(self.options),
                         version=self.version, image=self.image)

    @classmethod
    def of(cls, record: SpecificManagerRecord, *, image: str | None = None,
           version: str | None = None) -> SmLaunch:
        """The launch of a registry record (optionally of another image/version: an update)."""
        options: dict[str, Any] = dict(record.options)
        return cls(record_id=record.id, service_id=record.owner_id, sm_id=record.sm_id,
                   sm_type=ManagerType(record.sm_type.value), version=version or record.version,
                   image=image or record.image, topic=str(options.get("topic", "")),
                   kinds=tuple(options.get("types") or ()), vnf_id=options.get("vnf_id"),
                   options={str(k): str(v) for k, v in (options.get("descriptor_options") or {}).items()})


class Runner(Protocol):
    """Starts, calls and stops SM instances of one kind (Python class or container image)."""

    def start(self, launch: SmLaunch, *, timeout: float) -> None:
        """Start the instance and wait until it answers a ping.

        Raises:
            SmStartError: it did not start; the runner has cleaned up whatever it started.
        """
        ...

    def call(self, launch: SmLaunch, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """Send one request body; return the reply body (:mod:`ssm.runtime` describes both).

        Raises:
            SmCallTimeout: no reply within ``timeout`` (the instance is left running).
            SmUnavailable: the instance is not running.
        """
        ...

    def alive(self, launch: SmLaunch) -> bool:
        """Whether the instance is running."""
        ...

    def stop(self, launch: SmLaunch) -> None:
        """Stop the instance and free what it holds; idempotent, never raises for a missing one."""
        ...

    def running(self) -> list[SmInstanceName]:
        """Every instance this runner has running (including ones a previous registry started)."""
        ...

    def stop_instance(self, instance: SmInstanceName) -> None:
        """Stop an instance known only by name (a leaked one); idempotent."""
        ...


class LazyRunner:
    """A runner built on first use; if building fails (no dockerd), its SMs fail to start with
    the reason, and nothing is reported running."""

    def __init__(self, build: Any, what: str = "runner"):
        self._build = build
        self._what = what
        self._runner: Runner | None = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def get(self, *, create: bool = True) -> Runner | None:
        """The runner (built now if needed and ``create``), or None when unavailable."""
        with self._lock:
            if self._runner is None and create:
                try:
                    self._runner = self._build()
                    self._error = None
                except Exception as exc:  # noqa: BLE001 - reported on each start
                    self._error = f"{self._what} unavailable: {type(exc).__name__}: {exc}"
            return self._runner

    def start(self, launch: SmLaunch, *, timeout: float) -> None:
        runner = self.get()
        if runner is None:
            raise SmStartError(self._error or f"{self._what} unavailable")
        runner.start(launch, timeout=timeout)

    def call(self, launch: SmLaunch, body: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        runner = self.get(create=False)
        if runner is None:
            raise SmUnavailable(self._error or f"{self._what} unavailable")
        return runner.call(launch, body, timeout=timeout)

    def alive(self, launch: SmLaunch) -> bool:
        runner = self.get()
        return runner is not None and runner.alive(launch)

    def stop(self, launch: SmLaunch) -> None:
        runner = self.get()
        if runner is not None:
            runner.stop(launch)

    def running(self) -> list[SmInstanceName]:
        runner = self.get(create=False)  # not built yet: nothing of ours to list (see alive)
        return runner.running() if runner is not None else []

    def stop_instance(self, instance: SmInstanceName) -> None:
        runner = self.get()
        if runner is not None:
            runner.stop_instance(instance)

    def close(self) -> None:
        """Close the runner if it was built and can be closed."""
        runner = self.get(create=False)
        if runner is not None and hasattr(runner, "close"):
            runner.close()
