"""The service graph: VNFs (with their deployment units), ingress/egress points, virtual links.

Design:

* A :class:`ServiceGraph` wraps a :class:`networkx.MultiGraph`. VNF nodes carry a frozen
  :class:`Vnf` under ``"vnf"`` (its deployment units with cores and memory); endpoint nodes
  carry an :class:`Endpoint` under ``"endpoint"`` (ingress or egress, with the substrate
  ``location`` where traffic enters and the ``nap`` address). Every edge is one
  :class:`VirtualLink` under ``"link"``, keyed by its id; a multigraph because two VNFs may
  share several links, and a link inside one VNF (between two of its units) is a self-loop.
* Multipoint descriptor links (E-LAN, E-Tree) become one edge per member pair, named
  ``<vl>_<i>_<j>`` as SONATA does; E-Line links keep their id.
* Links without QoS requirements stay in the graph (they describe the service) but constrain
  nothing, as in SONATA. A link with ``bandwidth > 0`` reserves WAN bandwidth when its ends
  land on different PoPs; a link with ``max_latency`` bounds the route latency.
* Developer soft constraints (SONATA NSD ``soft_constraints``) are kept as data on the graph:
  ``proximity``/``affinity`` between two actors, each a VNF id or an endpoint role
  (``ingress``/``egress``; SONATA spells them ``source``/``destination``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

from placement import units
from placement.errors import PlacementError
from placement.substrate import PopType


@dataclass(frozen=True)
class DeploymentUnit:
    """A VDU (``vm``) or a cloud-native unit (``container``) with its requirements (GB)."""

    id: str
    vnf_id: str
    du_id: str
    platform: PopType = PopType.VM
    cores: float = 0.0
    memory: float = 0.0

    def __post_init__(self) -> None:
        units.number(self.cores, f"unit {self.id}: cores")
        units.number(self.memory, f"unit {self.id}: memory")


@dataclass(frozen=True)
class Vnf:
    """A network function: its id in the NSD and its deployment units."""

    vnf_id: str
    units: tuple[DeploymentUnit, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not self.units:
            raise PlacementError(f"VNF {self.vnf_id!r} has no deployment unit")
        for unit in self.units:
            if unit.vnf_id != self.vnf_id:
                raise PlacementError(f"unit {unit.id!r} does not belong to VNF {self.vnf_id!r}")

    @property
    def cores(self) -> float:
        """Total cores of all units."""
        return sum(unit.cores for unit in self.units)

    @property
    def memory(self) -> float:
        """Total memory (GB) of all units."""
        return sum(unit.memory for unit in self.units)


class EndpointRole(str, enum.Enum):
    """Where traffic enters (ingress, SONATA "source") or leaves (egress, "destination")."""

    INGRESS = "ingress"
    EGRESS = "egress"

    @classmethod
    def from_actor(cls, actor: str) -> EndpointRole | None:
        """Map a soft-constraint actor name to a role, None if it is not an endpoint name."""
        return {
            "source": cls.INGRESS,
            "ingress": cls.INGRESS,
            "destination": cls.EGRESS,
            "egress": cls.EGRESS,
        }.get(actor)


@dataclass(frozen=True)
class Endpoint:
    """An ingress or egress point: a substrate ``location`` and a ``nap`` (IP address)."""

    id: str
    role: EndpointRole
    location: str = ""
    nap: str = ""


@dataclass(frozen=True)
class LinkEnd:
    """One end of a virtual link: a VNF (and which of its units) or an endpoint."""

    node: str
    unit: str | None = None


@dataclass(frozen=True)
class VirtualLink:
    """A point-to-point virtual link with its QoS requirements (Mbps, ms; None = unbounded)."""

    id: str
    a: LinkEnd
    b: LinkEnd
    bandwidth: float = 0.0
    max_latency: float | None = None

    @property
    def has_qos(self) -> bool:
        """True if the link constrains placement (bandwidth to reserve or a latency bound)."""
        return self.bandwidth > 0 or self.max_latency is not None


class SoftConstraintKind(str, enum.Enum):
    """SONATA developer objectives; both reward placing the two actors close to each other."""

    PROXIMITY = "proximity"
    AFFINITY = "affinity"


@dataclass(frozen=True)
class SoftConstraint:
    """A developer wish: keep ``actors`` (VNF ids or ``ingress``/``egress``) close together."""

    kind: SoftConstraintKind
    actors: tuple[str, str]
    weight: float = 1.0


@dataclass(frozen=True, eq=False)
class ServiceGraph:
    """VNFs, endpoints and virtual links as a networkx multigraph (see module docstring)."""

    graph: nx.MultiGraph = field(repr=False)
    soft_constraints: tuple[SoftConstraint, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.graph, nx.MultiGraph) or self.graph.is_directed():
            raise PlacementError("service graph must be an undirected nx.MultiGraph")
        for node, data in self.graph.nodes(data=True):
            if ("vnf" in data) == ("endpoint" in data):
                raise PlacementError(f"service node {node!r} must carry exactly one of 'vnf', 'endpoint'")
        unit_ids = [unit.id for vnf in self.vnfs for unit in vnf.units]
        if len(unit_ids) != len(set(unit_ids)):
            raise PlacementError("deployment unit ids are not unique in the service")
        for _, _, key, data in self.graph.edges(keys=True, data=True):
            if not isinstance(data.get("link"), VirtualLink) or data["link"].id != key:
                raise PlacementError(f"service edge {key!r} must carry a VirtualLink with that id")
        for constraint in self.soft_constraints:
            for actor in constraint.actors:
                if actor not in self.graph and EndpointRole.from_actor(actor) is None:
                    raise PlacementError(f"soft constraint {constraint.kind.value}: unknown actor {actor!r}")

    @classmethod
    def build(
        cls,
        vnfs: Iterable[Vnf],
        endpoints: Iterable[Endpoint] = (),
        links: Iterable[VirtualLink] = (),
        soft_constraints: Iterable[SoftConstraint] = (),
        name: str = "",
    ) -> ServiceGraph:
        """Assemble the multigraph from its parts (link ends must name existing nodes)."""
        graph = nx.MultiGraph(name=name)
        for vnf in vnfs:
            if vnf.vnf_id in graph:
                raise PlacementError(f"duplicate VNF id {vnf.vnf_id!r}")
            graph.add_node(vnf.vnf_id, vnf=vnf)
        for endpoint in endpoints:
            if endpoint.id in graph:
                raise PlacementError(f"endpoint id {endpoint.id!r} clashes with another node")
            graph.add_node(endpoint.id, endpoint=endpoint)
        for link in links:
            for end in (link.a, link.b):
                if end.node not in graph:
                    raise PlacementError(f"virtual link {link.id!r}: unknown node {end.node!r}")
            if graph.has_edge(link.a.node, link.b.node, key=link.id):
                raise PlacementError(f"duplicate virtual link id {link.id!r}")
            graph.add_edge(link.a.node, link.b.node, key=link.id, link=link)
        return cls(graph, tuple(soft_constraints), name)

    @property
    def vnfs(self) -> tuple[Vnf, ...]:
        """VNFs in insertion (NSD) order."""
        return tuple(data["vnf"] for _, data in self.graph.nodes(data=True) if "vnf" in data)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Ingress and egress points."""
        return tuple(data["endpoint"] for _, data in self.graph.nodes(data=True) if "endpoint" in data)

    @property
    def links(self) -> tuple[VirtualLink, ...]:
        """All virtual links (with and without QoS)."""
        return tuple(data["link"] for _, _, data in self.graph.edges(data=True))

    @property
    def units(self) -> tuple[DeploymentUnit, ...]:
        """All deployment units, VNF by VNF."""
        return tuple(unit for vnf in self.vnfs for unit in vnf.units)

    def vnf(self, vnf_id: str) -> Vnf:
        """The VNF with that id (KeyError if none)."""
        data = self.graph.nodes[vnf_id]
        if "vnf" not in data:
            raise KeyError(vnf_id)
        return data["vnf"]

    def endpoints_with_role(self, role: EndpointRole) -> tuple[Endpoint, ...]:
        """The ingress (or egress) points."""
        return tuple(endpoint for endpoint in self.endpoints if endpoint.role is role)
