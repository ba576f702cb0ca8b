"""Which nodes of a Ray cluster mano's actors and tasks run on: one decision, made here.

* **The control plane** (plugin manager, SLM, FLM, SMR, infrastructure adaptor, placement
  executive, placement, monitoring, gateway) runs on the cluster's head node by default
  (``MANO_CONTROL_PLANE_NODE=head``): the node whose loss is the cluster's loss anyway (its
  GCS holds every actor's name), so a worker node that dies never takes a plugin with it, and
  an operator finds the plugins in one place. Asking for the head (rather than for one node's
  id) also lets Ray restart a plugin there after a crash. ``any``: wherever Ray's default
  scheduling puts them.
* **Instances** (``service:<id>``, ``vnf:<id>`` and the hosts pre-started for them) are
  spread over the nodes. None of them is tied to a node: its state is in the store, so when
  its node dies Ray restarts it on another (``max_restarts=-1``) or the SLM re-activates it
  there, under the instance's lease.
* **A loopback store** (``settings.store_node``: the published URL names the store on one
  node's loopback only) keeps every mano actor that uses the store on that node: anywhere else
  it would refuse to start (``mano.store.client``). ``actors.runtime.start`` warns when such a
  cluster has other nodes.
* **The placement search's tasks and SM hosts** (``sm:...``) use no store: spread always.

The decisions are plain data (:class:`Where`), tested without Ray
(``tests/unit/test_scheduling.py``); ``actors.calls.ray_options`` turns one into the options
of ``actor.options(...)`` / ``task.options(...)``, which ``actors.calls.create`` and
``actors.calls.submit`` apply.
"""
from __future__ import annotations

import dataclasses

from mano.errors import ClusterError
from mano.settings import Settings

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
    """Where service, VNF and pre-started host actors run: spread (a loopback store's node only)."""
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
