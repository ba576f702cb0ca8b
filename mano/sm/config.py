"""Tunables of the specific manager registry and its runners, with documented defaults.

Built explicitly (tests) or with :meth:`SmrConfig.from_settings`, which takes the broker and
exchange from the runtime's :class:`~mano.settings.Settings`; nothing here reads the
environment.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import ssm
from mano.settings import DEFAULT_BROKER_URL, Settings

__all__ = ["ContainerConfig", "SmrConfig", "default_python_path"]


def default_python_path() -> tuple[str, ...]:
    """The repository root when ``examples/`` is beside the ``ssm`` package (a source checkout).

    Ray workers put the *driver's* working directory on ``sys.path``; an SMR started from
    elsewhere could not import ``examples.ssm...`` without this.
    """
    root = Path(ssm.__file__).resolve().parents[1]
    return (str(root),) if (root / "examples" / "__init__.py").is_file() else ()


@dataclasses.dataclass(frozen=True)
class ContainerConfig:
    """How SM containers run. Defaults: half a core, 128 MB, no privileges, read-only root."""

    cpus: float = 0.5
    memory: str = "128m"
    pids_limit: int = 64
    user: str = "65534:65534"          # nobody: no root inside the container
    read_only: bool = True
    network: str = "mano-sm"           # an *internal* bridge: no route out but to the host
    gate_port: int = 56720             # AMQP gate on the network's gateway (0: any free port). A fixed
                                       # port lets running SMs reconnect to a restarted SMR
    broker_url: str | None = None      # what containers use instead of the gate (a broker they reach)
    management_url: str | None = None  # RabbitMQ HTTP API; None: http://<broker host>:15672
    start_timeout_s: float = 60.0
    firewall: bool = True              # iptables: from the SM network, only the gate port is open
    exchange_user_limits: bool = True  # max 2 connections / 4 channels per SM user


@dataclasses.dataclass(frozen=True)
class SmrConfig:
    """Registry tunables."""

    broker_url: str = DEFAULT_BROKER_URL
    exchange: str = "son-kernel"
    start_timeout_s: float = 30.0        # an in-Ray SM must answer a ping within this
    stop_timeout_s: float = 10.0
    reconcile_period_s: float = 10.0     # the SMR's clean-up pass (0: no background pass)
    orphan_grace_s: float = 60.0         # SMs of a service with no record are kept this long
    parallel_starts: int = 4
    python_path: tuple[str, ...] = dataclasses.field(default_factory=default_python_path)
    python_modules: tuple[str, ...] | None = None  # allowed module prefixes (None: any)
    container: ContainerConfig = dataclasses.field(default_factory=ContainerConfig)
    containers_enabled: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> SmrConfig:
        """Broker URL and exchange from the runtime settings; ``overrides`` win."""
        values: dict[str, object] = {"broker_url": settings.broker_url, "exchange": settings.exchange}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
