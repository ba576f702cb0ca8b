"""Topology files: the PoPs of an infrastructure, in the format of SONATA's placement fixtures.

A topology file is a YAML list of ``{vim_uuid, vim_name, vim_city, vim_endpoint, type,
core_total, core_used, memory_total, memory_used}`` (memory in GB), or a mapping with that
list under ``vim_list`` (the shape of the IA's ``compute.list`` reply) and, optionally, the WAN
as SONATA's WIMs: ``wims: [{uuid, qos: [{node_1, node_2, bandwidth, latency}]}]`` (Mbps, ms),
which the placement engine routes virtual links over. ``python -m placement.topology`` writes
such files from real networks (the Topology Zoo, SNDlib, CAIDA). Without a file, mano uses the
3-PoP topology shipped in ``mano/data/default-topology.yml``.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mano.descriptors.loader import format_path
from mano.errors import DescriptorError
from mano.lifecycle.vim_port import Pop, WanLink
from mano.safe_yaml import SAFE_LOADER


class _PopEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    vim_uuid: str = Field(min_length=1)
    vim_name: str = Field(min_length=1)
    vim_city: str = ""
    vim_endpoint: str = ""
    vim_domain: str = "default"
    type: str = Field(default="vm", pattern="^(vm|container)$")
    core_total: float = Field(ge=0)
    core_used: float = Field(default=0, ge=0)
    memory_total: float = Field(ge=0)
    memory_used: float = Field(default=0, ge=0)


class _QosEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    node_1: str = Field(min_length=1)
    node_2: str = Field(min_length=1)
    bandwidth: float = Field(default=0, ge=0)
    latency: float = Field(default=0, ge=0)


def default_topology_path() -> Path:
    return Path(str(resources.files("mano") / "data" / "default-topology.yml"))


def _read(source: str | Path | list | dict | None) -> tuple[Any, str]:
    if source is None:
        source = default_topology_path()
    if not isinstance(source, (str, Path)):
        return source, "<topology>"
    path = Path(source)
    if not path.is_file():
        raise DescriptorError("no such topology file", source=str(source))
    import yaml
    return yaml.load(path.read_text(), Loader=SAFE_LOADER), str(source)  # libyaml: 10,000 PoPs in 2 s, not 7


def load_topology(source: str | Path | list | dict | None = None) -> list[Pop]:
    """Read PoPs from a topology file, a list of entries, or the packaged default."""
    return _pops(*_read(source))


def load_infrastructure(source: str | Path | list | dict | None = None) -> tuple[list[Pop], list[WanLink]]:
    """The PoPs and the WAN links of a topology, read once (a 10,000-PoP file takes seconds)."""
    content, label = _read(source)
    return _pops(content, label), _links(content, label)


def _pops(entries: Any, label: str) -> list[Pop]:
    if isinstance(entries, dict):
        entries = entries.get("vim_list", entries.get("pops"))
    if not isinstance(entries, list) or not entries:
        raise DescriptorError("a topology is a non-empty list of PoPs", source=label)
    pops = []
    for i, entry in enumerate(entries):
        try:
            e = _PopEntry.model_validate(entry)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise DescriptorError(err["msg"], source=label, path=f"[{i}].{format_path(err['loc'])}") from None
        pops.append(Pop(vim_uuid=e.vim_uuid, name=e.vim_name, city=e.vim_city, endpoint=e.vim_endpoint,
                        type=e.type, core_total=e.core_total, core_used=e.core_used,
                        memory_total=e.memory_total, memory_used=e.memory_used, domain=e.vim_domain))
    ids = [p.vim_uuid for p in pops]
    if len(set(ids)) != len(ids):
        raise DescriptorError("duplicate vim_uuid in topology", source=label)
    return pops


def _links(content: Any, label: str) -> list[WanLink]:
    if not isinstance(content, dict):
        return []
    wims = content.get("wims") or []
    if not isinstance(wims, list):
        raise DescriptorError("'wims' is a list of WIMs", source=label, path="wims")
    links = []
    for w, wim in enumerate(wims):
        pairs = wim.get("qos") if isinstance(wim, dict) else None
        if not isinstance(pairs, list):
            raise DescriptorError("a WIM lists its links under 'qos'", source=label, path=f"wims[{w}]")
        for q, pair in enumerate(pairs):
            try:
                e = _QosEntry.model_validate(pair)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                raise DescriptorError(err["msg"], source=label,
                                      path=f"wims[{w}].qos[{q}].{format_path(err['loc'])}") from None
            if e.node_1 == e.node_2:
                raise DescriptorError("a WAN link joins two different nodes", source=label, path=f"wims[{w}].qos[{q}]")
            links.append(WanLink(e.node_1, e.node_2, e.bandwidth, e.latency))
    return links
