"""Where Ray runs mano's actors and tasks on a cluster: one decision, made here.

* **The control plane** (plugin manager, SLM, FLM, SMR, infrastructure adaptor, placement
  executive, placement, monitoring, gateway) runs on the cluster's head node by default
  (``MANO_CONTROL_PLANE_NODE=head``): the node whose loss is the cluster's loss anyway (its
  GCS holds every actor's name), so a worker node that dies never takes a plugin with it, and
  an operator finds the plugins in one place. Ray marks its head with the resource
  ``node:__internal_head__`` (Ray's own head-only actors ask for a sliver of it, as here);
  asking for it rather than for one node's id also lets Ray restart a plugin there after a
  crash. ``any``: wherever Ray's default scheduling puts them.
* **Instances** (``service:<id>``, ``vnf:<id>`` and the spares started ahead of them) are
  spread over the nodes (Ray's ``SPREAD``). None of them is tied to a node: its state is in the
  store, so when its node dies Ray restarts it on another (``max_restarts=-1``) or the SLM
  re-activates it there, under the instance's lease.
* **A loopback store** (``settings.store_node``: the published URL names the store on one
  node's loopback only) keeps every mano actor that uses the store on that node: anywhere else
  it would refuse to start (``mano.store.client``). ``actors.runtime.start`` warns when such a
  cluster has other nodes.
* **The placement search's tasks and SM hosts** (``sm:...``) use no store: spread always.

The decisions are plain data (:class:`Where`), testable without Ray; :func:`ray_options`
translates one into the options of ``actor.options(...)`` / ``task.options(...)``, which
:func:`actors.calls.create` and :func:`actors.calls.submit` apply.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from mano.errors import ClusterError
from mano.settings import Settings

#: The resource Ray gives its head node only (``ray._common.constants.HEAD_NODE_RESOURCE_NAME``).
HEAD_NODE_RESOURCE = "node:__internal_head__"
#: How much of it a control-plane actor asks for: a sliver, so any number of them fit (the
#: head has 1.0), as Ray's own head-only actors do.
HEAD_NODE_SHARE = 0.001

CONTROL_PLANE_NODES = ("head", "any")


@dataclasses.dataclass(frozen=True)
class Where:
    """Where Ray may run an actor or a task."""

    kind: str  # "head": the head node; "node": ``node_id`` only; "spread": over the nodes; "any": Ray's default
    node_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("head", "node", "spread", "any") or (self.kind == "node") != (self.node_id is not None):
            raise ValueError(f"bad placement {self}")


HEAD = Where("head")
SPREAD = Where("spread")
ANY = Where("any")


def control_plane(settings: Settings) -> Where:
    """Where the plugin actors run (``settings.control_plane_node``; a loopback store's node first)."""
    check(settings)
    if settings.store_node is not None:
        return Where("node", settings.store_node)
    return HEAD if settings.control_plane_node == "head" else ANY


def instances(settings: Settings) -> Where:
    """Where service, VNF, spare and SM host actors run: spread (a loopback store's node only)."""
    if settings.store_node is not None:
        return Where("node", settings.store_node)
    return SPREAD


def search_tasks() -> Where:
    """Where the placement search's tasks run: spread (they use no store, only CPUs)."""
    return SPREAD


def sm_hosts() -> Where:
    """Where ``python://`` SM hosts run: spread (an SM talks to its registry, never to the store)."""
    return SPREAD


def check(settings: Settings) -> None:
    """``settings.control_plane_node`` is one this module knows, or a :class:`ClusterError`."""
    if settings.control_plane_node not in CONTROL_PLANE_NODES:
        raise ClusterError(f"MANO_CONTROL_PLANE_NODE={settings.control_plane_node!r}: expected one of "
                           f"{', '.join(CONTROL_PLANE_NODES)} (head: the Ray cluster's head node; any: where Ray "
                           "schedules them)")


def ray_options(where: Where | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``options`` (Ray's ``.options(...)`` keywords) with ``where`` applied; a copy."""
    out = dict(options or {})
    if where is None or where.kind == "any":
        return out
    if where.kind == "head":
        resources = dict(out.get("resources") or {})
        resources[HEAD_NODE_RESOURCE] = HEAD_NODE_SHARE
        out["resources"] = resources
    elif where.kind == "spread":
        out["scheduling_strategy"] = "SPREAD"
    else:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        out["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=where.node_id, soft=False)
    return out
