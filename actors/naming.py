"""Actor names: what the Ray dashboard shows, and how actors find each other again.

Every mano actor lives in the ``mano`` namespace under a name derived from what it is, so a
restarted runtime finds the actors of in-flight work and an operator reads the dashboard.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mano.lifecycle.lease import InstanceLeases

NAMESPACE = "mano"

PLUGIN_MANAGER = "plugin-manager"
SLM = "slm"
FLM = "flm"
SMR = "smr"
INFRASTRUCTURE = "infrastructure-adaptor"
PLACEMENT_EXECUTIVE = "placement-executive"
PLACEMENT = "placement"
MONITORING = "monitoring"
GATEWAY = "gateway"


@dataclasses.dataclass(frozen=True)
class InstanceActorId:
    """``service:<uuid>`` or ``vnf:<uuid>``, round-tripping through the actor name."""

    kind: str
    id: str

    PREFIXES = ("service", "vnf")

    def __post_init__(self) -> None:
        if self.kind not in self.PREFIXES or not self.id:
            raise ValueError(f"bad instance actor id {self.kind}:{self.id}")

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, name: str) -> "InstanceActorId":
        kind, _, ident = name.partition(":")
        return cls(kind, ident)


def service_actor(service_id: str) -> str:
    return InstanceActorId("service", service_id).name


def vnf_actor(vnf_instance_id: str) -> str:
    return InstanceActorId("vnf", vnf_instance_id).name


def actor_leases(store: Any, settings: Any) -> "InstanceLeases":
    """The lease keeper of the calling actor, for all the instances it runs. Its identity is the
    actor's id, so a restart of the actor (a new process, the same id) takes its own unreleased
    leases over at once."""
    import ray

    from mano.lifecycle.lease import Holder, InstanceLeases
    actor_id = ray.get_runtime_context().get_actor_id()
    holder = Holder.this_process(f"actor:{actor_id}" if actor_id else None)
    return InstanceLeases(store.leases, holder, ttl_s=settings.lease_ttl_s)
