"""Helpers shared by the specific-manager tests (imported by name: tests dirs are not packages)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from paths import EXAMPLES, REPO

from mano.descriptors import load_service
from mano.vim.topology import load_topology

SM_TESTS = Path(__file__).resolve().parent
PYTHON_PATH = (str(REPO), str(SM_TESTS))
PACKAGES = ("placement-pinning", "task-reorder", "configure-chain", "fsm-start-stop", "monitor-scale")
DEMO = EXAMPLES / "sonata-demo"
SCHEDULE = ["validate", "place", "create_networks", "deploy_vnfs", "start_vnfs", "configure_vnfs", "store_records"]
REQUIRED = ["validate", "place", "deploy_vnfs", "store_records"]


def package_args(name: str) -> tuple[dict, dict[str, dict]]:
    """(nsd, {vnf_id: vnfd}) of an example package, as the port's ``onboard`` takes them."""
    package = load_service(EXAMPLES / "ssm" / name)
    return package.nsd.to_dict(), {vnf_id: v.to_dict() for vnf_id, v in package.vnfds.items()}


def demo_args(ssms: list[dict] | None = None, fsms: dict[str, list[dict]] | None = None) -> tuple[dict, dict]:
    """The sonata-demo package with the given SSMs (NSD) and FSMs (per vnf_id) declared."""
    nsd, vnfds = copy.deepcopy(load_service(DEMO).nsd.to_dict()), {}
    for vnf_id, vnfd in load_service(DEMO).vnfds.items():
        vnfds[vnf_id] = copy.deepcopy(vnfd.to_dict())
    if ssms is not None:
        nsd["service_specific_managers"] = ssms
    for vnf_id, managers in (fsms or {}).items():
        vnfds[vnf_id]["function_specific_managers"] = managers
    return nsd, vnfds


def sm(sm_id: str, image: str, *types: str, **options: str) -> dict[str, Any]:
    """One SM entry of a descriptor."""
    opts = [{"key": "type", "value": t} for t in types] + [{"key": k, "value": v} for k, v in options.items()]
    return {"id": sm_id, "description": f"test SM {sm_id}", "image": image, "options": opts}


def pops_payload() -> list[dict[str, Any]]:
    """The packaged default topology as placement payload PoPs."""
    return [{"id": p.vim_uuid, "name": p.name, "city": p.city, "core_total": p.core_total,
             "memory_total": p.memory_total} for p in load_topology(None)]


def placement_payload(vnf_ids: list[str], **extra: Any) -> dict[str, Any]:
    return {"functions": [{"vnf_id": v, "instance_id": f"{v}-1"} for v in vnf_ids], "pops": pops_payload(), **extra}


def task_payload() -> dict[str, Any]:
    return {"schedule": list(SCHEDULE), "required": list(REQUIRED)}


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


