"""What the lifecycle core needs from the rest of the system, as small typed interfaces.

The service controller talks to the function lifecycle manager, the infrastructure and
placement only through these protocols. The Ray actors implement them with remote calls
(``actors/handles.py``); unit tests implement them with plain objects (``mano.testing``), so
every workflow runs synchronously and deterministically without Ray (STYLE practice 6).
Each cross-boundary input is one frozen dataclass (practice 12). Descriptors travel typed
(:class:`~mano.descriptors.models.Vnfd`): validated once, where the service's package was
loaded, not again by each port they cross.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Protocol, Sequence

from mano.descriptors.models import Vnfd
from mano.lifecycle.vim_port import Network, NetworkRequest, Pop, WanLink


def _typed(vnfd: Vnfd | Mapping[str, Any]) -> Vnfd:
    """A VNFD as the ports carry it: a document (a test's, an SSM's) is validated here, once."""
    return vnfd if isinstance(vnfd, Vnfd) else Vnfd.model_validate(vnfd)


@dataclasses.dataclass(frozen=True)
class FunctionDeployment:
    """SLM → FLM: deploy one VNF instance (SONATA ``mano.function.deploy``)."""

    service_id: str
    vnf_instance_id: str
    vnf_id: str
    vnfd: Vnfd
    pop: str
    networks: Mapping[str, str] = dataclasses.field(default_factory=dict)  # VNF cp -> network id
    vim: str = "emulated"
    # Start it once deployed, in the same call: the workflow would start it next with nothing in
    # between (no start FSM, no reordered schedule), so a second call per VNF would buy nothing.
    start: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "vnfd", _typed(self.vnfd))


@dataclasses.dataclass(frozen=True)
class FunctionAction:
    """SLM → FLM: start, stop, configure, remove or heal one VNF instance."""

    service_id: str
    vnf_instance_id: str
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class PlacementUnit:
    """One VNF instance to place."""

    instance_id: str
    vnf_id: str
    vnfd: Vnfd

    def __post_init__(self) -> None:
        object.__setattr__(self, "vnfd", _typed(self.vnfd))


@dataclasses.dataclass(frozen=True)
class PlacementRequest:
    service_id: str
    nsd: Mapping[str, Any]
    units: tuple[PlacementUnit, ...]
    pops: tuple[Pop, ...]
    pinned: Mapping[str, str] = dataclasses.field(default_factory=dict)  # instance id -> pop
    blacklist: tuple[str, ...] = ()   # PoP uuids, names or cities the customer refuses
    policy: str = "load balanced"
    policy_list: tuple[str, ...] = ()  # priority policy: PoP names or uuids, most preferred first
    weights: Mapping[str, float] = dataclasses.field(default_factory=lambda: {"operator": 1.0, "developer": 0.0})
    ingresses: tuple[Mapping[str, Any], ...] = ()  # [{location, nap}]: where traffic enters (proximity)
    egresses: tuple[Mapping[str, Any], ...] = ()
    links: tuple[WanLink, ...] = ()  # the WAN between the PoPs (the Placement plugin adds the IA's)
    # A question, not a deployment (SONATA's placement topic): the asker sent its own PoPs and
    # WAN and deploys the answer elsewhere, so the Placement plugin keeps the request's links
    # and reserves nothing for it (mano would never see those instances settle).
    question: bool = False
    # The VIM whose PoPs ``pops`` are. A port that ``reads_pops`` is sent no PoPs (``pops`` empty)
    # and reads them of this VIM itself: the Placement plugin asks the infrastructure adaptor for
    # them together with the reservations it retires, one call where the service made another.
    vim: str = ""

    @property
    def reads_pops(self) -> bool:
        """Sent no PoPs to place on (and not a question, which brings its own): the placer reads
        those of ``vim`` (the Placement port's ``reads_pops``)."""
        return not self.pops and not self.question


@dataclasses.dataclass(frozen=True)
class PlacementOutcome:
    """Placement → SLM: where each instance goes, and how that answer was found. The place
    step records everything but the mapping (:meth:`summary`), so an operator sees which
    solver answered, how good its answer is, and every fallback with its reason."""

    mapping: Mapping[str, str]      # VNF instance id -> PoP uuid
    solver: str                     # exact | fast | exhaustive | first fit | ssm
    seconds: float = 0.0
    objective: float | None = None
    optimal: bool = False           # proven optimal
    gap: float | None = None        # proven relative gap to the best bound, when one is known
    fallback: str | None = None     # why first fit answered instead of the engine
    exact: str | None = None        # why the MILP, when it was tried, did not answer (cancelled at the deadline...)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "mapping" and v is not None}


class Functions(Protocol):
    """The function lifecycle manager, as a service sees it. Batch calls run in parallel and
    raise :class:`~mano.errors.StepFailedError` naming every failed instance, after all ended."""

    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]: ...

    def start(self, actions: Sequence[FunctionAction]) -> None: ...

    def stop(self, actions: Sequence[FunctionAction]) -> None: ...

    def configure(self, actions: Sequence[FunctionAction]) -> None: ...

    def remove(self, actions: Sequence[FunctionAction]) -> None: ...

    def heal(self, action: FunctionAction) -> dict[str, Any]: ...

    def status(self, vnf_instance_id: str) -> str: ...

    def new_instance_ids(self, count: int) -> list[str]:
        """Fresh ids for new VNF instances (made by the caller: no call to the FLM)."""
        ...


class Infrastructure(Protocol):
    def list_pops(self, vim: str) -> list[Pop]: ...

    def create_networks(self, vim: str, service_id: str, requests: Sequence[NetworkRequest]) -> list[Network]: ...

    def delete_networks(self, vim: str, service_id: str) -> None: ...


class Placement(Protocol):
    """``reads_pops`` (optional, default False): the port reads the PoPs of ``request.vim``
    itself when ``request.pops`` is empty, so the caller need not ask for them."""

    def place(self, request: PlacementRequest) -> PlacementOutcome: ...


class Vim(Protocol):
    """The infrastructure adaptor, as a VNF instance sees it."""

    def deploy_vnf(self, vim: str, deployment: "VnfDeployment") -> "DeployedVnf": ...

    def remove_vnf(self, vim: str, service_id: str, vnf_instance_id: str) -> None: ...

    def configure_vnf(self, vim: str, service_id: str, vnf_instance_id: str, envs: Mapping[str, str]) -> None: ...

    def vnf_status(self, vim: str, vnf_instance_id: str) -> str: ...


from mano.lifecycle.vim_port import DeployedVnf, VnfDeployment  # noqa: E402  (type names for the protocol above)
