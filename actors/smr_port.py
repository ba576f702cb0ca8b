"""The :class:`~mano.lifecycle.sm_port.SpecificManagers` port over the SMR actor.

What the SLM/FLM workflows use in the runtime. The SMR is looked up by name on each call, so a
restarted SMR is found again. If the SMR itself cannot be reached, ``ssm``/``fsm`` return
``SmOutcome(used=False, reason="unavailable: ...")`` like any other SM failure (the workflow
runs its default); ``onboard``/``terminate``/``update`` raise the (retryable)
:class:`~actors.calls.ActorUnavailable` / :class:`~actors.calls.ActorTimeout`, and store
outages and caller errors come back as raised (``StoreUnavailableError``, ``SmRequestError``).
"""
from __future__ import annotations

import logging
from typing import Any

from actors import calls, naming
from mano.settings import Settings
from mano.lifecycle.sm_port import DEFAULT_TIMEOUT_S, SmOutcome

log = logging.getLogger(__name__)

_MARGIN_S = 5.0  # the SMR enforces the SM's limit; this covers the hop to the SMR


class RaySpecificManagers:
    """The port, over the ``smr`` actor (see the module doc)."""

    def __init__(self, settings: Settings, *, name: str = naming.SMR):
        self._smr = calls.named(name)
        self._timeout = settings.step_timeout_s

    def _call(self, method: str, *args: Any, timeout: float) -> Any:
        try:
            return calls.call(self._smr, method, *args, timeout=timeout, what=f"smr.{method}")
        except ValueError as exc:  # ray.get_actor: no SMR at all
            raise calls.ActorUnavailable(f"smr.{method}: the SMR is not running ({exc})") from None

    def onboard(self, service_id: str, nsd: dict, vnfds: dict[str, dict]) -> list[dict]:
        return self._call("onboard", service_id, dict(nsd), {k: dict(v) for k, v in vnfds.items()},
                          timeout=2 * self._timeout)

    def terminate(self, service_id: str) -> None:
        self._call("terminate", service_id, timeout=self._timeout)

    def ssm(self, service_id: str, kind: str, payload: dict, *,
            timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        return self._ask("ssm", service_id, kind, dict(payload), timeout, timeout=timeout)

    def fsm(self, service_id: str, vnf_id: str, kind: str, payload: dict, *,
            timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        return self._ask("fsm", service_id, vnf_id, kind, dict(payload), timeout, timeout=timeout)

    def update(self, service_id: str, sm_id: str, image: str) -> dict:
        return self._call("update", service_id, sm_id, image, timeout=2 * self._timeout)

    def records(self, service_id: str) -> list[dict]:
        """The service's SM records (not part of the port; for tools and tests)."""
        return self._call("records", service_id, timeout=self._timeout)

    def _ask(self, method: str, *args: Any, timeout: float) -> SmOutcome:
        try:
            return self._call(method, *args, timeout=timeout + _MARGIN_S)
        except (calls.ActorUnavailable, calls.ActorTimeout) as exc:
            log.warning("SMR did not answer (%s): default behaviour", exc)
            return SmOutcome(used=False, reason=f"unavailable: {exc}")
