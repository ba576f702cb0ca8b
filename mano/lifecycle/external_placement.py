"""Placement by an external plugin: a request in SONATA's ``mano.service.place`` format, and its
reply read back as a :class:`~mano.lifecycle.ports.PlacementOutcome`. Pure translation: the
Placement plugin actor (``actors.placement``) sends it over the bus when the operator handed the
placement role to a plugin that registered for it (``MANO_PLACEMENT_PLUGIN``, e.g. SONATA's
``son-plugin.PlacementPlugin``).

The request is what son-mano-framework's SLM sends its placement plugin (``SLM_mapping``, v5.1)
and what :mod:`mano.gateway.placement_topic` reads: ``{serv_id, nsd, functions[{id, vnfd}],
topology{vims{vim_list}, wims[{uuid, qos}]}, operator_policies{policy, policy_list, weights},
customer_policies{blacklist}, nap{ingresses, egresses}, predefined_mapping{function{<id>{vim_id,
new: true}}}, vnf_single_pop: true}``; the VIMs' memory in MB, as SONATA's IA reports it. The
reply is ``{error, mapping{du{<function id>: <vim uuid>}, vl}}``; ``vl`` is not read (mano's VIM
drivers make the service's links on the PoPs the VNFs landed on).
"""
from __future__ import annotations

from typing import Any, Mapping

from mano.errors import PlacementError
from mano.lifecycle.ports import PlacementOutcome, PlacementRequest

TOPIC = "mano.service.place"
MB_PER_GB = 1024.0


class ExternalPlacementError(PlacementError):
    """The external plugin refused the request, or answered with a mapping mano cannot use."""


def request_body(request: PlacementRequest) -> dict[str, Any]:
    """The request as SONATA's SLM would send it."""
    vims = []
    for pop in request.pops:
        vim = pop.to_sonata()
        vim["memory_total"], vim["memory_used"] = pop.memory_total * MB_PER_GB, pop.memory_used * MB_PER_GB
        vims.append(vim)
    return {
        "serv_id": request.service_id,
        "nsd": dict(request.nsd),
        "functions": [{"id": unit.instance_id, "vnfd": unit.vnfd.to_dict()} for unit in request.units],
        "topology": {"vims": {"vim_list": vims},
                     "wims": [{"uuid": "wan", "qos": [link.to_sonata() for link in request.links]}]
                     if request.links else []},
        "operator_policies": {"policy": request.policy, "policy_list": list(request.policy_list),
                              "weights": dict(request.weights)},
        "customer_policies": {"blacklist": list(request.blacklist)},
        "nap": {"ingresses": [dict(e) for e in request.ingresses], "egresses": [dict(e) for e in request.egresses]},
        "predefined_mapping": {"function": {unit: {"vim_id": pop, "new": True} for unit, pop in request.pinned.items()}},
        "vnf_single_pop": True,
    }


def outcome_of(reply: Any, request: PlacementRequest, plugin: str, seconds: float) -> PlacementOutcome:
    """The plugin's answer for ``request``, checked: every unit placed, on a PoP of the request.

    Raises:
        ExternalPlacementError: it refused (its ``error``), or its mapping misses a unit or names
            a PoP the request did not offer.
    """
    if not isinstance(reply, Mapping):
        raise ExternalPlacementError(f"placement plugin {plugin} answered with a body mano cannot read: {reply!r:.200}")
    if reply.get("error"):
        raise ExternalPlacementError(f"placement plugin {plugin}: {reply['error']}")
    mapping = reply.get("mapping")
    du = mapping.get("du") if isinstance(mapping, Mapping) else None
    if not isinstance(du, Mapping):
        raise ExternalPlacementError(f"placement plugin {plugin} answered without a mapping.du")
    missing = [u.instance_id for u in request.units if u.instance_id not in du]
    if missing:
        raise ExternalPlacementError(f"placement plugin {plugin} placed no PoP for {', '.join(missing)}")
    offered = {p.vim_uuid for p in request.pops}
    stray = {str(du[u.instance_id]) for u in request.units} - offered
    if stray:
        raise ExternalPlacementError(f"placement plugin {plugin} chose PoPs the request did not offer: "
                                     f"{', '.join(sorted(stray))}")
    return PlacementOutcome({u.instance_id: str(du[u.instance_id]) for u in request.units}, solver=plugin,
                            seconds=seconds)
