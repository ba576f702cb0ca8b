"""``mano validate``: a summary of each descriptor, or the precise errors."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from mano.cli.render import console, errors, lit, print_json
from mano.descriptors import Nsd, Vnfd, load_descriptor, load_service
from mano.errors import DescriptorError, MissingVnfdError


def _row(path: Path, model: Nsd | Vnfd) -> dict:
    if isinstance(model, Nsd):
        return {"path": str(path), "kind": "NSD", "name": model.name, "vendor": model.vendor,
                "version": model.version, "units": f"{len(model.network_functions)} VNFs",
                "links": len(model.virtual_links), "cores": None, "memory_gb": None}
    return {"path": str(path), "kind": "VNFD", "name": model.name, "vendor": model.vendor, "version": model.version,
            "units": f"{len(model.deployment_units)} units", "links": len(model.virtual_links),
            "cores": model.vcpus, "memory_gb": model.memory_gb}


def validate_paths(paths: tuple[Path, ...], as_json: bool) -> bool:
    rows, problems, notes = [], [], []
    for path in paths:
        try:
            if path.is_dir():
                package = load_service(path)
                rows.append(_row(path, package.nsd))
                rows += [_row(path, v) for v in package.unique_vnfds]
                continue
            model = load_descriptor(path)
            rows.append(_row(path, model))
            if isinstance(model, Nsd):
                try:
                    load_service(path)
                    notes.append(f"{path}: every network function resolves to a VNFD beside it")
                except MissingVnfdError as exc:
                    notes.append(f"{path}: the NSD is valid, but its directory lacks VNFDs:\n  - "
                                 + "\n  - ".join(exc.problems))
        except DescriptorError as exc:
            problems.append({"path": str(path), "error": str(exc), "problems": exc.problems})
    if as_json:
        print_json({"valid": rows, "invalid": problems, "notes": notes})
        return not problems
    if rows:
        table = Table(title="valid descriptors")
        for column in ("path", "kind", "name", "vendor", "version", "units", "links", "cores", "memory (GB)"):
            table.add_column(column)
        for r in rows:
            table.add_row(lit(r["path"]), r["kind"], lit(r["name"]), lit(r["vendor"]), lit(r["version"]),
                          lit(r["units"]), str(r["links"]),
                          "" if r["cores"] is None else f"{r['cores']:g}",
                          "" if r["memory_gb"] is None else f"{r['memory_gb']:g}")
        console.print(table)
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {lit(note)}", highlight=False)
    for p in problems:
        errors.print(f"[red]invalid:[/red] {lit(p['error'])}", highlight=False)
    return not problems
