"""SONATA's placement topic, ``mano.service.place``: a SONATA SLM asks mano's placement over AMQP.

Pure translation (no broker, no Ray): a SONATA placement request in, a
:class:`~mano.lifecycle.ports.PlacementRequest` out, and the
:class:`~mano.lifecycle.ports.PlacementOutcome` back as SONATA's reply. The gateway actor
subscribes the topic and asks the placement executive (``actors.placement``).

**Request** (YAML), as son-mano-framework's SLM sends it (``SLM_mapping``) and its placement
plugin reads it (``placement_request``), checked against that source at v5.1::

    {serv_id, nsd,
     functions: [{id: <VNF instance uuid>, vnfd, ...}],    # the SLM's ledger entries
     topology: {vims: {vim_list: [...], ...}, wims: [...]},  # the IA's compute.list / wan.list replies
     operator_policies: {policy: load balanced|fill first|priority, policy_list,
                         weights: {operator, developer}},
     customer_policies: {blacklist: [...]},
     nap: {ingresses: [{location, nap}], egresses: [...]},
     predefined_mapping: {function: {<id>: {vim_id, new, vl}}, service: {vl: {...}}},
     vnf_single_pop}

* A function is matched to its NSD ``network_functions`` entry by the VNFD's (vendor, name,
  version), as SONATA's plugin does (or by its ``id`` when that is the NSD's ``vnf_id``); the
  ``-<id>`` suffix SONATA's SLM appends to deployment-unit ids is taken off again.
* VIM memory is in **MB**, as SONATA's IA reports it (the plugin divides by 1024); mano's PoPs
  hold GB. The VIM list and the WIMs are read by mano's topology reader
  (:func:`mano.vim.topology.load_infrastructure`); a WIM without ``qos`` pairs adds no link.
* ``predefined_mapping.function.<id>.vim_id`` pins a function; one with ``new: false`` is
  deployed already (its usage is in the VIM's figures, so SONATA counts it as 0): it is not
  placed again and comes back in the reply as it was. ``predefined_mapping.service.vl`` (fixed
  networks) is not read: mano's engine routes the links itself.
* A missing ``operator_policies.policy`` means the operator's own, ``MANO_PLACEMENT_POLICY``
  (SONATA's SLM asks its policy manager for it before asking placement).
* ``vnf_single_pop: false`` is accepted, but mano always keeps a VNF's units on one PoP (its
  deployment unit is the VNF); SONATA's reply is per VNF anyway.

**Reply** on the same topic, same correlation id, ``headers.type: reply``::

    {error: null, mapping: {du: {<function id>: <vim uuid>}, vl: {<nsd vl id>: [{vim_id: [...], refs}]}},
     solver: exact|fast|exhaustive|first fit|predefined, fallback?: <why first fit answered>}

``solver``/``fallback`` are mano's additions (SONATA's SLM reads ``mapping`` only). Each NSD
link is given the VIMs of its VNFs, SONATA's answer for a link not routed over a WIM; WIM
pairs (``wim_id``, ``nodes``) are not produced. A request that cannot be answered gets
``{error: <text>, mapping: {}}`` (SONATA's SLM then fails with "Unable to perform placement."),
with SONATA's texts where it had one: "No attached VIMs", "Operator policies are not a
dictionary", "Customer policies are not a dictionary", "Result of placement: infeasible, ...".

**No reservation.** A bus request is a question, not a deployment: the asker deploys the
answer through its own IA, mano never sees those instances settle, so a reservation would only
expire by its timeout and meanwhile push mano's own services off those PoPs. The request is
marked ``question``: the Placement plugin places it on the asker's PoPs and WAN links and
reserves nothing (it still counts mano's pending reservations on PoPs of the same uuid).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mano.descriptors.loader import format_path, validate_model
from mano.descriptors.models import Nsd, Vnfd
from mano.errors import DescriptorError, InfeasiblePlacementError, ManoError, PlacementError
from mano.gateway.core import Inbound
from mano.gateway.northbound import NO_CORRELATION_ID
from mano.lifecycle.placement_preferences import Endpoint
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest, PlacementUnit
from mano.lifecycle.vim_port import Pop, WanLink
from mano.vim.topology import load_infrastructure
from placement.policy import OperatorPolicy

PLACE = "mano.service.place"
MB_PER_GB = 1024.0  # SONATA's factor (its plugin divides the IA's MB by 1024)
PREDEFINED = "predefined"  # the solver named when every function was placed already

Place = Callable[[PlacementRequest], PlacementOutcome]


class PlacementTopicError(ManoError):
    """A placement request that cannot be answered; the message is the reply's ``error``."""


# --- the request, as SONATA's SLM writes it ------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class _Function(_Model):
    id: str = Field(min_length=1)
    vnfd: dict[str, Any]


class _Topology(_Model):
    vims: dict[str, Any] | list[Any] | None = None  # the IA's compute.list reply {vim_list}, or the list
    wims: list[Any] | None = None                   # the IA's wan.list: [{uuid, qos: [...]}]


class _Nap(_Model):
    # The endpoints the gatekeeper path checks too (a location each): proximity needs it.
    ingresses: list[Endpoint] | None = None
    egresses: list[Endpoint] | None = None


class _FunctionPin(_Model):
    vim_id: str | None = None
    new: bool = True  # False: deployed already


class _PredefinedMapping(_Model):
    function: dict[str, _FunctionPin | None] = Field(default_factory=dict)
    service: dict[str, Any] | None = None


class SonataPlacementRequest(_Model):
    serv_id: str = Field(min_length=1)
    nsd: dict[str, Any]
    functions: list[_Function] = Field(min_length=1)
    topology: _Topology | None = None
    operator_policies: Any = None   # checked by hand, for SONATA's error texts
    customer_policies: Any = None
    nap: _Nap | None = None
    predefined_mapping: _PredefinedMapping | None = None
    vnf_single_pop: bool = True


@dataclasses.dataclass(frozen=True)
class PlacementQuestion:
    """A parsed request: what to place, and what the reply needs besides the outcome."""

    request: PlacementRequest | None        # None: every function is deployed already
    function_ids: tuple[str, ...]           # in the request's order
    vnf_ids: Mapping[str, str]              # function id -> NSD vnf_id
    deployed: Mapping[str, str]             # function id -> VIM, for functions not placed again
    virtual_links: tuple[Mapping[str, Any], ...] = ()  # the NSD's


# --- request -> PlacementRequest ----------------------------------------------------------
def parse(body: Any, *, default_policy: str = "load balanced") -> PlacementQuestion:
    """The question a ``mano.service.place`` body asks; :class:`PlacementTopicError` says why
    it cannot be answered."""
    if body is None:
        raise PlacementTopicError(
            "empty payload: a placement request needs serv_id, nsd, functions and topology")
    if not isinstance(body, Mapping):
        raise PlacementTopicError("payload is not a dict.")
    for key in ("serv_id", "nsd", "functions"):
        if body.get(key) is None:
            raise PlacementTopicError(f"No {key} in message")
    try:
        message = SonataPlacementRequest.model_validate(dict(body))
    except ValidationError as exc:
        raise PlacementTopicError(_first_problem(exc)) from None
    operator = _policies(message.operator_policies, "Operator")
    customer = _policies(message.customer_policies, "Customer")
    policy, policy_list = _policy(operator, default_policy), _policy_list(operator)
    weights, blacklist = _weights(operator), _blacklist(customer)
    pops, links = _infrastructure(message.topology)
    nsd = _checked(Nsd, message.nsd, "nsd")
    repeated = [i for i, n in Counter(f.id for f in message.functions).items() if n > 1]
    if repeated:
        raise PlacementTopicError(f"functions: id {repeated[0]} is given more than once")
    vnf_ids = _vnf_ids(message.functions, nsd)
    pins = message.predefined_mapping.function if message.predefined_mapping else {}
    deployed = {f.id: pin.vim_id for f in message.functions
                if (pin := pins.get(f.id)) is not None and pin.vim_id and not pin.new}
    pinned = {f.id: pin.vim_id for f in message.functions
              if (pin := pins.get(f.id)) is not None and pin.vim_id and pin.new}
    known = {p.vim_uuid for p in pops} | {p.name for p in pops}
    for function_id, vim in pinned.items():
        if vim not in known:
            raise PlacementTopicError(f"predefined_mapping pins function {function_id} to VIM {vim}, "
                                      f"which the topology does not list")
    units = tuple(PlacementUnit(f.id, vnf_ids[f.id], _vnfd_of(f, i))
                  for i, f in enumerate(message.functions) if f.id not in deployed)
    nap = message.nap or _Nap()
    request = PlacementRequest(
        service_id=message.serv_id, nsd=message.nsd, units=units, pops=pops, pinned=pinned,
        blacklist=blacklist, policy=policy, policy_list=policy_list, weights=weights,
        ingresses=tuple(e.model_dump() for e in nap.ingresses or ()),
        egresses=tuple(e.model_dump() for e in nap.egresses or ()), links=links,
        question=True) if units else None
    return PlacementQuestion(request, tuple(f.id for f in message.functions), vnf_ids, deployed,
                             tuple(link.to_dict() for link in nsd.virtual_links))


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    where = format_path(err["loc"]) or "payload"
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    value = err.get("input")
    got = f" (got {value!r:.60})" if value is None or isinstance(value, (str, int, float, bool)) else ""
    return f"{where}: {err['msg']}{got}"


def _policies(value: Any, whose: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PlacementTopicError(f"{whose} policies are not a dictionary")
    return value


def _infrastructure(topology: _Topology | None) -> tuple[tuple[Pop, ...], tuple[WanLink, ...]]:
    """The asker's PoPs (memory MB -> GB) and WAN links, read by mano's topology reader."""
    vims = topology.vims if topology else None
    vim_list = vims.get("vim_list") if isinstance(vims, Mapping) else vims
    if not vim_list:
        raise PlacementTopicError("No attached VIMs")
    # SONATA's IA may list a WIM without links with no qos at all; the reader wants a list.
    wims = [{**w, "qos": w.get("qos") or []} if isinstance(w, Mapping) else w for w in (topology.wims or [])]
    try:
        pops, links = load_infrastructure({"vim_list": vim_list, "wims": wims})
    except DescriptorError as exc:
        if not exc.path:
            raise PlacementTopicError(f"topology: {exc.detail}") from None
        where = "topology.vims.vim_list" if exc.path.startswith("[") else "topology."
        raise PlacementTopicError(f"{where}{exc.path}: {exc.detail}") from None
    pops = [dataclasses.replace(p, memory_total=p.memory_total / MB_PER_GB,
                                memory_used=p.memory_used / MB_PER_GB) for p in pops]
    return tuple(pops), tuple(links)


def _checked(model: type, document: dict[str, Any], label: str) -> Any:
    try:
        return validate_model(model, document, label)
    except DescriptorError as exc:
        raise PlacementTopicError(str(exc)) from None


def _vnf_ids(functions: list[_Function], nsd: Nsd) -> dict[str, str]:
    """Function id -> the NSD's vnf_id: by the function's id when the NSD names it, else by its
    VNFD's (vendor, name, version); functions sharing a VNFD take the NSD's entries in order."""
    by_key: dict[tuple[str, str, str], list[str]] = {}
    for nf in nsd.network_functions:
        by_key.setdefault(nf.vnfd_key, []).append(nf.vnf_id)
    seen: Counter[tuple[str, str, str]] = Counter()
    found = {}
    for index, function in enumerate(functions):
        vnfd = function.vnfd
        key = (str(vnfd.get("vendor")), str(vnfd.get("name")), str(vnfd.get("version")))
        candidates = by_key.get(key)
        if not candidates:
            raise PlacementTopicError(
                f"functions[{index}] ({function.id}): its VNFD (vendor {key[0]}, name {key[1]}, "
                f"version {key[2]}) is not one of the NSD's network_functions")
        if function.id in candidates:
            found[function.id] = function.id
        else:
            found[function.id] = candidates[min(seen[key], len(candidates) - 1)]
            seen[key] += 1
    return found


def _vnfd_of(function: _Function, index: int) -> Vnfd:
    """The function's VNFD as its developer wrote it: SONATA's SLM renames each deployment unit
    ``<id>-<function id>``, while the VNFD's own links still name ``<id>``."""
    suffix = f"-{function.id}"
    vnfd = dict(function.vnfd)
    for key in ("virtual_deployment_units", "cloudnative_deployment_units"):
        if isinstance(vnfd.get(key), list):
            vnfd[key] = [{**u, "id": u["id"].removesuffix(suffix)}
                         if isinstance(u, Mapping) and isinstance(u.get("id"), str) else u for u in vnfd[key]]
    return _checked(Vnfd, vnfd, f"functions[{index}].vnfd")


def _policy(operator: Mapping[str, Any], default_policy: str) -> str:
    given = operator.get("policy")
    if given is None or str(given).strip() == "":
        return default_policy
    try:
        return OperatorPolicy.parse(given).value
    except PlacementError as exc:
        raise PlacementTopicError(f"operator_policies.policy: {exc}") from None


def _policy_list(operator: Mapping[str, Any]) -> tuple[str, ...]:
    given = operator.get("policy_list") or []
    if not isinstance(given, list):
        raise PlacementTopicError("operator_policies.policy_list is not a list")
    return tuple(str(x) for x in given)


def _weights(operator: Mapping[str, Any]) -> dict[str, float]:
    given = operator.get("weights") or {}
    if not isinstance(given, Mapping):
        raise PlacementTopicError("operator_policies.weights is not a dictionary")
    weights = {"operator": 1.0, "developer": 0.0}
    for name in weights:
        if given.get(name) is not None:
            try:
                weights[name] = float(given[name])  # SONATA's fixtures write '0.0' as text
            except (TypeError, ValueError):
                raise PlacementTopicError(f"operator_policies.weights.{name} is not a number "
                                          f"(got {given[name]!r:.40})") from None
    return weights


def _blacklist(customer: Mapping[str, Any]) -> tuple[str, ...]:
    given = customer.get("blacklist") or []
    if isinstance(given, (str, int)):
        given = [given]
    if not isinstance(given, list):
        raise PlacementTopicError("customer_policies.blacklist is not a list")
    return tuple(str(x) for x in given)


# --- outcome -> reply ----------------------------------------------------------------------
def reply(question: PlacementQuestion, outcome: PlacementOutcome) -> dict[str, Any]:
    """SONATA's success reply: the VIM of every function, the VIMs of every NSD link."""
    placed = {**question.deployed, **outcome.mapping}
    du = {f: placed[f] for f in question.function_ids}
    body: dict[str, Any] = {"error": None, "mapping": {"du": du, "vl": _links(question, du)},
                            "solver": outcome.solver}
    if outcome.fallback:
        body["fallback"] = outcome.fallback
    return body


def _links(question: PlacementQuestion, du: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    links = {}
    for link in question.virtual_links:
        refs = list(link.get("connection_points_reference") or [])
        ends = {ref.partition(":")[0] for ref in refs if ":" in ref}
        vims = list(dict.fromkeys(vim for f, vim in du.items() if question.vnf_ids[f] in ends))
        links[str(link["id"])] = [{"vim_id": vims, "refs": refs}]
    return links


def error_reply(text: str) -> dict[str, Any]:
    """The reply to a request that cannot be answered (SONATA's SLM reads the empty mapping)."""
    return {"error": text, "mapping": {}}


def answer(message: Inbound, place: Place, *, default_policy: str = "load balanced") -> dict[str, Any]:
    """The reply to one message on the topic: a mapping, or an error that says why not."""
    if message.malformed is not None:
        return error_reply(f"malformed message: {message.malformed}")
    if not message.correlation_id:
        return error_reply(NO_CORRELATION_ID)
    try:
        question = parse(message.body, default_policy=default_policy)
        outcome = place(question.request) if question.request else PlacementOutcome({}, PREDEFINED)
    except PlacementTopicError as exc:
        return error_reply(str(exc))
    except InfeasiblePlacementError as exc:
        return error_reply(f"Result of placement: infeasible, {exc}")
    except ManoError as exc:  # the executive away, a descriptor the engine refuses
        return error_reply(f"placement failed: {exc}")
    return reply(question, outcome)
