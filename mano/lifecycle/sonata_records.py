"""Builders of SONATA records (NSR, VNFR) from descriptors and what the VIM reported.

The shapes follow SONATA.md §4: deployment-unit ids become ``<id>-<vnf uuid>``, each VDU
lists its ``vnfc_instance`` with ``vim_id``, ``vc_id`` and connection points with an
``interface.address``; NSR ``network_functions`` list ``vnfr_id``s and its ``version`` is a
string bumped on every update.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from mano.descriptors.models import Nsd, Vnfd
from mano.records import NsrRecord, SonataStatus, VnfrRecord
from mano.lifecycle.vim_port import DeployedVnf, Network


def build_vnfr(service_id: str, vnf_instance_id: str, vnfd: Vnfd, deployed: DeployedVnf,
               networks: Mapping[str, str], *, version: str = "1") -> VnfrRecord:
    units = {u.unit_id: u for u in deployed.units}
    vdus = []
    for vdu in vnfd.virtual_deployment_units:
        unit = units.get(vdu.id)
        vdus.append({
            "id": f"{vdu.id}-{vnf_instance_id}",
            "vdu_reference": f"{vnfd.name}:{vdu.id}",
            "number_of_instances": 1,
            "vm_image": vdu.vm_image,
            "resource_requirements": vdu.resource_requirements.to_dict(),
            "monitoring_parameters": [m.to_dict() for m in vdu.monitoring_parameters],
            "vnfc_instance": [] if unit is None else [{
                "id": "0",
                "vim_id": unit.vim_id,
                "vc_id": unit.vc_id,
                "connection_points": [{"id": cp.id, "type": cp.type or "interface",
                                       "interface": {"address": unit.addresses.get(cp.id, "")}}
                                      for cp in vdu.connection_points],
            }],
        })
    cdus = [{"id": f"{cdu.id}-{vnf_instance_id}", "image": cdu.image, "vim_id": deployed.pop,
             "cdu_reference": f"{vnfd.name}:{cdu.id}",
             "connection_points": [c.to_dict() for c in cdu.connection_points]}
            for cdu in vnfd.cloudnative_deployment_units]
    links = [{**link.to_dict(), "descriptor_reference": link.id,
              "id": networks.get(link.id, f"{vnf_instance_id}_vnf_{link.id}"), "vim_id": deployed.pop}
             for link in vnfd.virtual_links]
    return VnfrRecord(
        id=vnf_instance_id, service_id=service_id, name=vnfd.name, version=version,
        status=SonataStatus.NORMAL_OPERATION.value, descriptor_reference=vnfd.uuid or _key(vnfd),
        virtual_deployment_units=vdus, cloudnative_deployment_units=cdus or None, virtual_links=links)


def _key(vnfd: Vnfd) -> str:
    return ":".join(vnfd.key)


def build_nsr(service_id: str, nsd: Nsd, vnfr_ids: Sequence[str], networks: Mapping[str, Network],
              *, version: int, user_data: Mapping[str, Any] | None = None,
              status: SonataStatus = SonataStatus.NORMAL_OPERATION) -> NsrRecord:
    links = []
    for link in nsd.virtual_links:
        net = networks.get(link.id)
        links.append({"id": net.id if net else link.id, "descriptor_reference": link.id,
                      "connectivity_type": link.connectivity_type,
                      "connection_points_reference": list(link.connection_points_reference),
                      **({"vim_id": [net.pop]} if net and net.pop else {})})
    customer = (user_data or {}).get("customer") or {}
    extra: dict[str, Any] = {}
    for field in ("lifecycle_events", "vnf_dependency", "monitoring_parameters", "auto_scale_policy"):
        if field in (nsd.model_extra or {}):
            extra[field] = nsd.model_extra[field]  # SONATA copies these NSD fields into the NSR
    return NsrRecord(
        id=service_id, status=status.value, version=str(version),
        descriptor_reference=nsd.uuid or ":".join(nsd.key),
        network_functions=[{"vnfr_id": v} for v in vnfr_ids], virtual_links=links,
        forwarding_graphs=[g.to_dict() for g in nsd.forwarding_graphs],
        sla_id=customer.get("sla_id") or None, policy_id=customer.get("policy_id") or None, **extra)
