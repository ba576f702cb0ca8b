"""The specific-manager port: what the SLM/FLM workflows call, and what they get back.

Workflows ask a service's SSM (``ssm``) or a VNF's FSM (``fsm``) to override one step and
receive an :class:`SmOutcome`. When ``outcome.used`` is false the workflow runs its default
behaviour and records ``outcome.reason`` (``absent``, ``timeout after 5 s``, ``raised
KeyError: 'x'``, ``invalid answer: ...``) on the step; nothing an SM does can raise through
this port. Only a store outage (:class:`~mano.errors.StoreUnavailableError`) and caller bugs
(:class:`SmRequestError`: an unknown kind, a payload that does not fit the kind's request
model) raise.

Payloads and answers, by kind (the models are in :mod:`ssm.models`; helpers that build the
payloads from lifecycle objects are in :mod:`mano.lifecycle.sm_payloads`):

=========== ====================================== ==================================================
kind        payload                                ``outcome.result`` when used
=========== ====================================== ==================================================
task        ``{schedule: [..], required: [..]}``   ``{schedule: [..]}``: a subset/permutation of the
                                                   schedule that keeps every required step
placement   ``{functions: [{vnf_id, instance_id,   ``{instance_id: pop_id}`` for every function (the
            vnfd}], pops: [{id, ...}], pinned,     SM may answer per vnf_id); PoPs exist in the
            blacklist, nsd, policy}``              request, pins kept, blacklist avoided
configure   ``{workflow, service, functions: [..],  ``{vnf_id or instance_id: {key: value}}``
            networks, params}``
monitor     ``{alert: {name, metric, value, ...},   ``None`` (do nothing) or ``{workflow: scale_out |
            service, functions}``                  scale_in | migrate | reconfigure | terminate,
                                                   params: {..}}``
state (SSM) ``{action: extract|inject, state}``    ``{status: COMPLETED, content}``
FSM kinds   ``{vnf_id, instance_id, vnfd, vnfr,     ``{status: COMPLETED, envs: [{cdu_id, envs}],
            data}``                                persist, content}`` (``cdu_id`` must name a
                                                   deployment unit of the VNFD, when one is given)
=========== ====================================== ==================================================
"""
from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from mano.errors import ManoError
from ssm.models import FsmKind, SsmKind

__all__ = ["FSM_KINDS", "SSM_KINDS", "SmError", "SmOutcome", "SmRequestError", "SmUpdateError",
           "SpecificManagers", "UnknownSmError"]

SSM_KINDS: frozenset[str] = frozenset(k.value for k in SsmKind)
FSM_KINDS: frozenset[str] = frozenset(k.value for k in FsmKind)

DEFAULT_TIMEOUT_S = 5.0


class SmError(ManoError):
    """Base of the specific-manager errors."""


class SmRequestError(SmError):
    """The caller asked for something the port cannot do (unknown kind, malformed payload)."""


class UnknownSmError(SmError):
    """No SM with that id is registered for the service."""


class SmUpdateError(SmError):
    """An update could not start the new version; the old one keeps running."""


@dataclasses.dataclass(frozen=True)
class SmOutcome:
    """What an SM call produced.

    ``used``: the SM answered validly and ``result`` is its validated plain-data answer.
    Otherwise ``reason`` says why the default behaviour runs: ``absent`` (none registered for
    that kind, or not running), ``timeout after <n> s``, ``raised <Type>: <text>``,
    ``invalid answer: <what>``, ``unavailable: <what>``.
    """

    used: bool
    result: Any = None
    sm_id: str | None = None
    reason: str | None = None

    @classmethod
    def absent(cls, detail: str | None = None) -> SmOutcome:
        """No usable SM: the default runs."""
        return cls(used=False, reason="absent" if not detail else f"absent ({detail})")

    def to_dict(self) -> dict[str, Any]:
        """Plain data, e.g. for a step result."""
        return dataclasses.asdict(self)


class SpecificManagers(Protocol):
    """The specific manager registry as the workflows see it.

    Implementations: :class:`mano.sm.local.LocalSpecificManagers` (in-process, tests) and
    ``actors.smr_port.RaySpecificManagers`` (the SMR actor).
    """

    def onboard(self, service_id: str, nsd: dict, vnfds: dict[str, dict]) -> list[dict]:
        """On-board and instantiate the SMs the descriptors declare (``vnfds`` by NSD vnf_id).

        Returns the SM records as dicts. Idempotent: running SMs are kept, failed ones retried.
        """
        ...

    def terminate(self, service_id: str) -> None:
        """Stop every SM of the service (SSMs and FSMs); idempotent."""
        ...

    def ssm(self, service_id: str, kind: str, payload: dict, *,
            timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        """Ask the service's SSM registered for ``kind`` (task|placement|configure|monitor|state)."""
        ...

    def fsm(self, service_id: str, vnf_id: str, kind: str, payload: dict, *,
            timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        """Ask the FSM of the service's NSD ``vnf_id`` registered for ``kind``
        (start|stop|configure|scale|state)."""
        ...

    def update(self, service_id: str, sm_id: str, image: str) -> dict:
        """Replace an SM by a new image/class (make before break); return its record."""
        ...
