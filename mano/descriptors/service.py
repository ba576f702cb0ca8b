"""A service package: one NSD with its network functions resolved to VNFDs.

SONATA matches an NSD's ``network_functions`` to VNFDs by (vendor, name, version). A
package is loaded from a directory, from an NSD file with its VNFDs beside it, or from an NSD
and an explicit list of VNFDs (the gatekeeper's ``VNFD0..n``). Unresolved functions are
reported all at once, with a hint when a VNFD of the same vendor and name exists at another
version (the usual mistake).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from mano.descriptors.loader import (DEFAULT_MAX_BYTES, Source, _raise, descriptor_kind, load_nsd,
                                     load_vnfd, read_document)
from mano.descriptors.models import Nsd, Vnfd
from mano.descriptors.references import check_service
from mano.errors import DescriptorError, MissingVnfdError

MAX_PACKAGE_FILES = 500


@dataclasses.dataclass(frozen=True)
class ServicePackage:
    """An NSD plus the VNFD of each of its network functions, keyed by ``vnf_id``."""

    nsd: Nsd
    vnfds: Mapping[str, Vnfd]
    source: str = "<dict>"

    def vnfd(self, vnf_id: str) -> Vnfd:
        return self.vnfds[vnf_id]

    def __reduce__(self) -> tuple[Any, ...]:
        # A package crosses processes as loaded (mano.instantiate -> the SLM actor), not as
        # documents to validate again; its read-only mapping does not pickle by itself.
        return _package, (self.nsd, dict(self.vnfds), self.source)

    @property
    def unique_vnfds(self) -> tuple[Vnfd, ...]:
        """Each distinct VNFD once, in NSD order (two functions may share one VNFD)."""
        seen: dict[tuple[str, str, str], Vnfd] = {}
        for nf in self.nsd.network_functions:
            seen.setdefault(nf.vnfd_key, self.vnfds[nf.vnf_id])
        return tuple(seen.values())


def _package(nsd: Nsd, vnfds: dict[str, Vnfd], source: str) -> ServicePackage:
    return ServicePackage(nsd=nsd, vnfds=MappingProxyType(vnfds), source=source)


def resolve(nsd: Nsd, vnfds: Iterable[Vnfd], *, source: str = "<dict>") -> ServicePackage:
    """Match each network function to a VNFD; raise :class:`MissingVnfdError` listing the gaps."""
    by_key = {v.key: v for v in vnfds}
    resolved: dict[str, Vnfd] = {}
    missing: list[str] = []
    for i, nf in enumerate(nsd.network_functions):
        vnfd = by_key.get(nf.vnfd_key)
        if vnfd is None:
            missing.append(f"network_functions[{i}]: {_missing_text(nf.vnf_id, nf.vnfd_key, by_key)}")
        else:
            resolved[nf.vnf_id] = vnfd
    if missing:
        raise MissingVnfdError(missing[0], source=source, problems=missing)
    _raise(check_service(nsd, resolved), source)
    return ServicePackage(nsd=nsd, vnfds=MappingProxyType(resolved), source=source)


def _missing_text(vnf_id: str, key: tuple[str, str, str], known: Mapping[tuple[str, str, str], Vnfd]) -> str:
    vendor, name, version = key
    text = f"no VNFD for {vnf_id!r} (vendor {vendor!r}, name {name!r}, version {version!r})"
    others = sorted(v.version for (ven, nam, _), v in known.items() if (ven, nam) == (vendor, name))
    if others:
        text += f"; a VNFD of that vendor and name exists at version {', '.join(others)}"
    return text


def load_service(nsd: Source | Nsd | Path, vnfds: Sequence[Source | Vnfd] | None = None, *,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> ServicePackage:
    """Load a service from a directory, an NSD file (VNFDs beside it) or an NSD plus VNFDs."""
    if isinstance(nsd, (str, Path)) and not isinstance(nsd, Nsd) and _is_dir(nsd):
        return _load_directory(Path(nsd), vnfds, max_bytes)
    if vnfds is None:
        if not (isinstance(nsd, (str, Path)) and _is_file(nsd)):
            raise DescriptorError("the VNFDs are missing: give them as vnfds=[...] or put them in "
                                  "the NSD's directory", source="<dict>" if isinstance(nsd, dict) else None)
        return _load_directory(Path(nsd).parent, None, max_bytes, nsd_file=Path(nsd))
    nsd_model = load_nsd(nsd, max_bytes=max_bytes)
    loaded = [load_vnfd(v, max_bytes=max_bytes) for v in vnfds]
    label = str(nsd) if isinstance(nsd, (str, Path)) else "<dict>"
    return resolve(nsd_model, loaded, source=label)


def _is_dir(value: str | Path) -> bool:
    return "\n" not in str(value) and Path(value).is_dir()


def _is_file(value: str | Path) -> bool:
    return "\n" not in str(value) and Path(value).is_file()


def _load_directory(directory: Path, vnfds: Sequence[Source | Vnfd] | None, max_bytes: int,
                    nsd_file: Path | None = None) -> ServicePackage:
    files = sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if len(files) > MAX_PACKAGE_FILES:
        raise DescriptorError(f"{len(files)} YAML files; the limit is {MAX_PACKAGE_FILES}", source=str(directory))
    nsds: list[Nsd] = []
    found: list[Vnfd] = [load_vnfd(v, max_bytes=max_bytes) for v in vnfds or ()]
    for path in files:
        if nsd_file is not None and path.resolve() == nsd_file.resolve():
            continue
        try:
            document, label = read_document(path, max_bytes=max_bytes)
        except DescriptorError:
            continue  # not every YAML file beside a descriptor is one (topologies, notes)
        kind = descriptor_kind(document)
        if kind == "vnfd" and vnfds is None:
            found.append(load_vnfd(document, name=label))
        elif kind == "nsd" and nsd_file is None:
            nsds.append(load_nsd(document, name=label))
    if nsd_file is not None:
        nsds = [load_nsd(nsd_file, max_bytes=max_bytes)]
    if len(nsds) != 1:
        what = "no NSD" if not nsds else f"{len(nsds)} NSDs ({', '.join(n.name for n in nsds)})"
        raise DescriptorError(f"expected exactly one NSD in the directory, found {what}", source=str(directory))
    return resolve(nsds[0], found, source=str(nsd_file or directory))
