"""SMs that misbehave on purpose, for the fallback tests (importable as ``faulty_sms``).

The registry's Python runners add ``tests/sm`` to the import path (``SmrConfig.python_path``)
in these tests, so descriptors can name ``python://faulty_sms:Raising``.
"""
from __future__ import annotations

import time
from typing import Any

from ssm import (
    FsmRequest,
    FsmResponse,
    FunctionSpecificManager,
    MonitorAlert,
    PlacementRequest,
    ServiceSpecificManager,
    StateRequest,
    StateResponse,
    TaskRequest,
)


class Raising(ServiceSpecificManager):
    """Every hook raises."""

    def placement(self, request: PlacementRequest) -> Any:
        raise KeyError("no such pop")

    def task(self, request: TaskRequest) -> Any:
        raise RuntimeError("task SSM exploded")


class Hanging(ServiceSpecificManager):
    """Sleeps ``sleep_s`` (option, default 60) in every hook."""

    def _sleep(self) -> None:
        time.sleep(float(self.context.options.get("sleep_s", "60")))

    def placement(self, request: PlacementRequest) -> Any:
        self._sleep()
        return {}

    def state(self, request: StateRequest) -> Any:
        self._sleep()
        return StateResponse.done()


class Lying(ServiceSpecificManager):
    """Answers the right shape with the wrong content."""

    def placement(self, request: PlacementRequest) -> Any:
        return {f.instance_id: "pop-that-does-not-exist" for f in request.functions}

    def task(self, request: TaskRequest) -> Any:
        return [s for s in request.schedule if s not in request.required] or ["not-a-step"]

    def monitor(self, alert: MonitorAlert) -> Any:
        return {"workflow": "self_destruct"}


class Garbage(ServiceSpecificManager):
    """Answers things that are not plain data or not the right shape at all."""

    def placement(self, request: PlacementRequest) -> Any:
        return {object()}

    def task(self, request: TaskRequest) -> Any:
        return 42


class Versioned(ServiceSpecificManager):
    """The state hook answers which class version runs (for update tests)."""

    VERSION = "v1"

    def state(self, request: StateRequest) -> StateResponse:
        return StateResponse.done({"version": self.VERSION, "sm_version": self.context.version})


class VersionedTwo(Versioned):
    VERSION = "v2"


class FailsAtStart(ServiceSpecificManager):
    def on_start(self) -> None:
        raise OSError("cannot reach my database")


class LyingFsm(FunctionSpecificManager):
    """Sets env on a deployment unit the VNF does not have; answers FAILED on stop."""

    def start(self, request: FsmRequest) -> FsmResponse:
        return FsmResponse.done([{"cdu_id": "vdu99", "envs": {"X": "1"}}])

    def stop(self, request: FsmRequest) -> Any:
        return {"status": "FAILED", "error": "cannot stop"}


class NotAnSm:
    """Not a SpecificManager subclass."""
