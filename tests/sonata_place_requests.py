"""SONATA placement requests (``mano.service.place``) built from SONATA's own placement cases
(``tests/data/sonata/placement/cases.yml``), written the way son-mano-framework's SLM writes them
(``SLM_mapping``): every function a fresh VNF instance uuid with its deployment units renamed
``<id>-<uuid>``, the VIM list as the IA's ``compute.list`` reply (memory in MB: the case files
are in GB), ``nap: {ingresses, egresses}``, and a predefined mapping with an unpinned entry per
function. ``expected`` keys the case's PoPs by those function ids.
"""
from __future__ import annotations

import copy
import uuid
from functools import lru_cache
from typing import Any

import yaml

from paths import SONATA

BASE = SONATA / "placement"


@lru_cache(maxsize=None)
def _cases() -> tuple[dict, ...]:
    return tuple(yaml.safe_load((BASE / "cases.yml").read_text()))


def case_names() -> list[str]:
    return [c["name"] for c in _cases()]


def case(number: int) -> dict:
    """The SONATA case numbered ``number`` (its ``case`` field: 1, 2, 3, 5, 6, 10, 12, 15, 16, 17)."""
    return copy.deepcopy(next(c for c in _cases() if c["case"] == number))


def _load(name: str) -> Any:
    return yaml.safe_load((BASE / name).read_text())


def request_of(case: dict) -> tuple[dict, dict[str, str]]:
    """(the request body, {function id: the PoP SONATA's test expects})."""
    nsd = _load(case["nsd"])
    functions, ids = [], {}
    for k, name in enumerate(case["vnfds"], start=1):
        function_id = str(uuid.uuid4())
        vnfd = _load(name)
        for unit in vnfd.get("virtual_deployment_units") or []:
            unit["id"] = f"{unit['id']}-{function_id}"
        functions.append({"id": function_id, "vnfd": vnfd, "flavour": None,
                          "start": {"trigger": True, "payload": {}}, "stop": {"trigger": True, "payload": {}}})
        ids[f"vnf_{k}"] = function_id
    vims = _load(case["topology"])
    for vim in vims:
        vim["memory_total"] *= 1024
        vim["memory_used"] *= 1024
    operator = copy.deepcopy(case["operator_policy"])
    if case.get("operator_weight") is not None:  # SONATA's 2018 test API passed the weights apart
        operator["weights"] = {"operator": case["operator_weight"], "developer": case["developer_weight"]}
    body = {
        "serv_id": str(uuid.uuid4()),
        "nsd": nsd,
        "functions": functions,
        "topology": {"vims": {"request_status": "COMPLETED", "vim_list": vims}, "wims": []},
        "operator_policies": operator,
        "customer_policies": case.get("customer_policy") or {},
        "nap": {"ingresses": case.get("ingress"), "egresses": case.get("egress")},
        "predefined_mapping": {"service": {"vl": {}},
                               "function": {f["id"]: {"vim_id": None, "vl": {}, "new": True} for f in functions}},
        "vnf_single_pop": case.get("vnf_single_pop", True),
    }
    return body, {ids[k]: pop for k, pop in case["expected"].items()}
