"""Topology files: the PoPs of an infrastructure, in the format of SONATA's placement fixtures.

A topology file is a YAML list of ``{vim_uuid, vim_name, vim_city, vim_endpoint, type,
core_total, core_used, memory_total, memory_used}`` (memory in GB), or a mapping with that
list under ``vim_list`` (the shape of the IA's ``compute.list`` reply). Without a file, mano
uses the 3-PoP topology shipped in ``mano/data/default-topology.yml``.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mano.descriptors.loader import format_path
from mano.errors import DescriptorError
from mano.lifecycle.vim_port import Pop


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


def default_topology_path() -> Path:
    return Path(str(resources.files("mano") / "data" / "default-topology.yml"))


def load_topology(source: str | Path | list | dict | None = None) -> list[Pop]:
    """Read PoPs from a topology file, a list of entries, or the packaged default."""
    label = "<topology>"
    if source is None:
        source = default_topology_path()
    if isinstance(source, (str, Path)):
        label = str(source)
        path = Path(source)
        if not path.is_file():
            raise DescriptorError("no such topology file", source=label)
        import yaml
        entries: Any = yaml.safe_load(path.read_text())
    else:
        entries = source
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
