"""Loading descriptors from untrusted input: safe YAML, size and depth limits, clear errors.

Everything that can go wrong while reading a descriptor becomes one
:class:`~mano.errors.DescriptorError` that names the source (a file path or ``<dict>``), the
field path in ``a.b[0].c`` form and what was expected. Only the safe loader is used (libyaml's
when PyYAML has it: several times faster, and every ``mano.instantiate`` of a path parses); input
larger than the configured limit is refused before it is parsed, and nesting deeper than
:data:`MAX_DEPTH` (or alias expansion beyond :data:`MAX_NODES`) is refused after.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, TypeVar, Union

import yaml
from pydantic import BaseModel, ValidationError

from mano.descriptors.models import Nsd, Vnfd
from mano.descriptors.references import Problem, check_nsd, check_vnfd
from mano.errors import DescriptorError
from mano.safe_yaml import SAFE_LOADER, is_nesting_limit

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 200_000

Source = Union[str, Path, bytes, dict]
M = TypeVar("M", bound=BaseModel)


def read_document(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None
                  ) -> tuple[dict[str, Any], str]:
    """Return ``(mapping, source name)`` from a path, YAML/JSON text or bytes, or a dict."""
    if isinstance(source, dict):
        label = name or "<dict>"
        _check_shape(source, label)
        return source, label
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.strip().endswith((".yml", ".yaml", ".json"))):
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise DescriptorError("no such file", source=label)
        if path.stat().st_size > max_bytes:
            raise DescriptorError(f"file is {path.stat().st_size} bytes; the limit is {max_bytes}",
                                  source=label)
        return parse_yaml(path.read_bytes(), label, max_bytes=max_bytes), label
    label = name or "<text>"
    data = source.encode() if isinstance(source, str) else source
    return parse_yaml(data, label, max_bytes=max_bytes), label


def parse_yaml(data: bytes, label: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Parse YAML (JSON is YAML) into a mapping, safely and within limits."""
    if len(data) > max_bytes:
        raise DescriptorError(f"input is {len(data)} bytes; the limit is {max_bytes}", source=label)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DescriptorError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=label) from None
    try:
        document = _load_yaml(text)
    except (yaml.YAMLError, RecursionError) as exc:
        if is_nesting_limit(exc):  # the parser's own limit stopped it before _check_shape could
            raise DescriptorError(f"nesting deeper than {MAX_DEPTH} levels", source=label) from None
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DescriptorError(f"not valid YAML{where}: {problem}", source=label) from None
    if not isinstance(document, dict):
        raise DescriptorError(f"expected a mapping at the top level, got {_kind(document)}", source=label)
    _check_shape(document, label)
    return document


def _load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        if SAFE_LOADER is yaml.SafeLoader or is_nesting_limit(exc):
            raise
    # Bad input is rare: parse it again with the Python loader, whose error positions are
    # the same on every machine (libyaml's may point past the last line).
    return yaml.safe_load(text)


def _check_shape(document: Any, label: str) -> None:
    """Refuse documents nested too deeply or with too many nodes (alias bombs)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise DescriptorError(f"nesting deeper than {MAX_DEPTH} levels", source=label)
        if nodes > MAX_NODES:
            raise DescriptorError(f"more than {MAX_NODES} values (alias expansion?)", source=label)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def _kind(value: Any) -> str:
    return "nothing (empty document)" if value is None else type(value).__name__


def format_path(loc: Iterable[Any]) -> str:
    """``('a', 0, 'b')`` → ``a[0].b``; pydantic's internal union tags are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not ("[" in part or "(" in part or part[:1].isupper()):
            out += f".{part}" if out else part
    return out


def _problems_of(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        if err["type"] == "missing":
            message = "required field is missing"
        elif value is None or isinstance(value, (str, int, float, bool)):
            message += f" (got {value!r})"
        problems.append((format_path(err["loc"]) or "(top level)", message))
    return problems


def _raise(problems: list[Problem], label: str) -> None:
    if problems:
        lines = [f"{path}: {message}" for path, message in problems]
        first_path, first_message = problems[0]
        raise DescriptorError(first_message, source=label, path=first_path, problems=lines)


def validate_model(model: type[M], document: dict[str, Any], label: str) -> M:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        _raise(_problems_of(exc), label)
    raise AssertionError("unreachable")


def load_vnfd(source: Source | Vnfd, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> Vnfd:
    """Load and validate one VNFD (schema and internal references)."""
    if isinstance(source, Vnfd):
        return source
    document, label = read_document(source, max_bytes=max_bytes, name=name)
    vnfd = validate_model(Vnfd, document, label)
    _raise(check_vnfd(vnfd), label)
    return vnfd


def load_nsd(source: Source | Nsd, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> Nsd:
    """Load and validate one NSD (schema and the references it can check alone)."""
    if isinstance(source, Nsd):
        return source
    document, label = read_document(source, max_bytes=max_bytes, name=name)
    nsd = validate_model(Nsd, document, label)
    _raise(check_nsd(nsd), label)
    return nsd


def descriptor_kind(document: dict[str, Any]) -> str | None:
    """``'nsd'``, ``'vnfd'`` or None, judged by the keys SONATA requires of each."""
    if "network_functions" in document:
        return "nsd"
    if "virtual_deployment_units" in document or "cloudnative_deployment_units" in document:
        return "vnfd"
    return None


def load_descriptor(source: Source, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Nsd | Vnfd:
    """Load an NSD or a VNFD, whichever the document is."""
    document, label = read_document(source, max_bytes=max_bytes)
    kind = descriptor_kind(document)
    if kind == "nsd":
        return load_nsd(document, name=label)
    if kind == "vnfd":
        return load_vnfd(document, name=label)
    raise DescriptorError("not a SONATA descriptor: an NSD has network_functions, a VNFD has "
                          "virtual_deployment_units or cloudnative_deployment_units", source=label)
