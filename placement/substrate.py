"""The substrate: PoPs (VIMs) with capacity and usage, joined by WAN links, as a networkx graph.

Design:

* A :class:`Substrate` wraps an undirected :class:`networkx.Graph`. Nodes that host VNFs carry
  a frozen :class:`Pop` under the ``"pop"`` attribute; other nodes (routers, access points
  where ingress/egress traffic enters) carry none. Edges are WAN links with ``bandwidth``
  (available Mbps) and ``latency`` (ms) attributes, plain floats so that networkx and scipy
  graph algorithms use them directly as weights.
* A PoP's capacity is SONATA's VIM view: ``core_total``/``core_used`` and ``memory_total``/
  ``memory_used`` in GB, plus the VIM type (``vm`` or ``container``), a name, a city and the
  VIM endpoint address (used by the developer proximity objective).
* The graph is never mutated by placement; build a new substrate to reflect new usage.
  (``frozen`` protects the attribute, the graph object itself is shared by reference.)
* SONATA's topology has no WAN links when no WIM is attached: then every PoP is an island and
  a virtual link with QoS requirements can only be honoured inside one PoP, as in SONATA.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from placement import units
from placement.errors import PlacementError


class PopType(str, enum.Enum):
    """What a PoP can run: VMs (VDUs with a ``vm_image``) or containers (cloud-native units)."""

    VM = "vm"
    CONTAINER = "container"

    @classmethod
    def parse(cls, value: Any, where: str = "type") -> PopType:
        """Accept SONATA's ``vm``/``container`` and the usual VIM-flavour aliases."""
        text = str(value if value is not None else "vm").strip().lower()
        if text in {"vm", "openstack", "heat", "vim"}:
            return cls.VM
        if text in {"container", "containers", "k8s", "kubernetes", "docker"}:
            return cls.CONTAINER
        raise PlacementError(f"{where}: unknown PoP type {value!r} (expected 'vm' or 'container')")


@dataclass(frozen=True)
class Pop:
    """A point of presence (a VIM) with SONATA's capacity view; memory in GB."""

    uuid: str
    name: str = ""
    pop_type: PopType = PopType.VM
    cores_total: float = 0.0
    cores_used: float = 0.0
    memory_total: float = 0.0
    memory_used: float = 0.0
    city: str = ""
    endpoint: str = ""

    def __post_init__(self) -> None:
        if not self.uuid:
            raise PlacementError("PoP without a uuid")
        for name in ("cores_total", "cores_used", "memory_total", "memory_used"):
            units.number(getattr(self, name), f"PoP {self.uuid}: {name}")

    @property
    def free_cores(self) -> float:
        """Cores left for new deployment units (may be negative if the VIM is overcommitted)."""
        return self.cores_total - self.cores_used

    @property
    def free_memory(self) -> float:
        """Memory (GB) left for new deployment units."""
        return self.memory_total - self.memory_used

    @property
    def label(self) -> str:
        """Human name for messages: ``name (uuid)``."""
        return f"{self.name} ({self.uuid})" if self.name and self.name != self.uuid else self.uuid

    def answers_to(self, label: str) -> bool:
        """True if ``label`` is this PoP's uuid, name or city (SONATA policies use names)."""
        return label in {self.uuid, self.name, self.city} and label != ""


@dataclass(frozen=True, eq=False)
class Substrate:
    """PoPs and WAN links as a networkx graph (see module docstring for the attributes)."""

    graph: nx.Graph = field(repr=False)

    def __post_init__(self) -> None:
        if self.graph.is_directed() or self.graph.is_multigraph():
            raise PlacementError("substrate graph must be an undirected simple nx.Graph")
        for node, data in self.graph.nodes(data=True):
            pop = data.get("pop")
            if pop is not None and (not isinstance(pop, Pop) or pop.uuid != node):
                raise PlacementError(f"substrate node {node!r}: 'pop' must be a Pop with uuid {node!r}")
        for a, b, data in self.graph.edges(data=True):
            units.number(data.get("bandwidth", 0.0), f"WAN link {a}–{b}: bandwidth")
            units.number(data.get("latency", 0.0), f"WAN link {a}–{b}: latency")

    @classmethod
    def from_pops(cls, pops: Iterable[Pop], links: Iterable[tuple[str, str, float, float]] = ()) -> Substrate:
        """Build from PoPs and ``(a, b, bandwidth_mbps, latency_ms)`` links (ends may be non-PoP nodes)."""
        graph = nx.Graph()
        for pop in pops:
            if pop.uuid in graph:
                raise PlacementError(f"duplicate PoP uuid {pop.uuid!r}")
            graph.add_node(pop.uuid, pop=pop)
        for a, b, bandwidth, latency in links:
            _add_link(graph, a, b, bandwidth, latency)
        return cls(graph)

    @property
    def pops(self) -> tuple[Pop, ...]:
        """All PoPs in graph node order."""
        return tuple(data["pop"] for _, data in self.graph.nodes(data=True) if data.get("pop") is not None)

    def pop(self, uuid: str) -> Pop:
        """The PoP with this uuid (KeyError if none)."""
        pop = self.graph.nodes[uuid].get("pop") if uuid in self.graph else None
        if pop is None:
            raise KeyError(uuid)
        return pop

    def resolve_pop(self, label: str) -> Pop | None:
        """The PoP a policy label names: uuid first, then a unique name or city."""
        if label in self.graph and self.graph.nodes[label].get("pop") is not None:
            return self.graph.nodes[label]["pop"]
        found = [pop for pop in self.pops if pop.answers_to(label)]
        if len(found) > 1:
            raise PlacementError(f"label {label!r} names several PoPs: {', '.join(p.uuid for p in found)}")
        return found[0] if found else None

    def resolve_node(self, label: str) -> str | None:
        """The graph node a location label names: a node id, or a PoP's name or city."""
        if label in self.graph:
            return label
        pop = self.resolve_pop(label)
        return pop.uuid if pop else None


def _add_link(graph: nx.Graph, a: str, b: str, bandwidth: Any, latency: Any) -> None:
    """Add a WAN link; parallel links merge (bandwidths add up, the lower latency wins)."""
    if a == b:
        raise PlacementError(f"WAN link {a}–{b} connects a node to itself")
    bw = units.bandwidth_mbps(bandwidth, where=f"WAN link {a}–{b}: bandwidth")
    lat = units.latency_ms(latency, where=f"WAN link {a}–{b}: latency")
    if graph.has_edge(a, b):
        data = graph.edges[a, b]
        bw += data["bandwidth"]
        lat = min(lat, data["latency"])
    graph.add_edge(a, b, bandwidth=bw, latency=lat)


def _pop_from_vim(vim: dict, index: int, memory_unit: str) -> Pop:
    where = f"topology[{index}]"
    if not isinstance(vim, dict):
        raise PlacementError(f"{where}: expected a VIM dict, got {type(vim).__name__}")
    if not vim.get("vim_uuid"):
        raise PlacementError(f"{where}: missing vim_uuid")
    unit = vim.get("memory_unit", memory_unit)
    return Pop(
        uuid=str(vim["vim_uuid"]),
        name=str(vim.get("vim_name") or ""),
        pop_type=PopType.parse(vim.get("type", vim.get("vim_type")), f"{where}.type"),
        cores_total=units.number(vim.get("core_total", 0), f"{where}.core_total"),
        cores_used=units.number(vim.get("core_used", 0), f"{where}.core_used"),
        memory_total=units.memory_gb(vim.get("memory_total", 0), unit, where=f"{where}.memory_total"),
        memory_used=units.memory_gb(vim.get("memory_used", 0), unit, where=f"{where}.memory_used"),
        city=str(vim.get("vim_city") or ""),
        endpoint=str(vim.get("vim_endpoint") or ""),
    )


def substrate_from_sonata(
    topology: list[dict] | dict, wims: list[dict] | None = None, *, memory_unit: str = "GB"
) -> Substrate:
    """Build a substrate from SONATA's topology.

    Args:
        topology: the VIM list of ``infrastructure_N.yml`` (``vim_uuid``, ``vim_name``,
            ``vim_city``, ``vim_endpoint``, ``type``, ``core_total/used``,
            ``memory_total/used``), or SONATA's ``{vims: [...], wims: [...]}``.
        wims: SONATA WIMs ``[{uuid, qos: [{node_1, node_2, bandwidth, latency}]}]``; a node
            that is not a VIM becomes a plain network node (e.g. an ingress location). A
            ``links: [{source, target, bandwidth, latency}]`` list is accepted as well.
        memory_unit: unit of the VIM memory figures (the fixtures use GB; a per-VIM
            ``memory_unit`` key overrides it).
    """
    if isinstance(topology, dict):
        wims = list(topology.get("wims") or []) + list(wims or [])
        topology = topology.get("vims") or topology.get("vim_list") or []
    if not isinstance(topology, list):
        raise PlacementError(f"topology must be a list of VIMs, got {type(topology).__name__}")
    if not topology:
        raise PlacementError("No attached VIMs: the topology lists no PoP")
    substrate = Substrate.from_pops(_pop_from_vim(vim, i, memory_unit) for i, vim in enumerate(topology))
    graph = substrate.graph
    for w, wim in enumerate(wims or []):
        if not isinstance(wim, dict):
            raise PlacementError(f"wims[{w}]: expected a dict, got {type(wim).__name__}")
        for pair in wim.get("qos", []) or []:
            _add_link(
                graph,
                str(pair["node_1"]),
                str(pair["node_2"]),
                pair.get("bandwidth", 0),
                pair.get("latency", 0),
            )
        for link in wim.get("links", []) or []:
            _add_link(
                graph,
                str(link["source"]),
                str(link["target"]),
                link.get("bandwidth", 0),
                link.get("latency", 0),
            )
    return Substrate(graph)
