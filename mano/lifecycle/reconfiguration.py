"""What a reconfiguration gives each VNF: environment values, SONATA's env injection.

A ``service.instance.reconfigure`` carries a ``reconfiguration_payload`` (``Service.reconfigure``
in the API). SONATA hands it to the service's configure SSM, whose answer (and each VNF's
configure FSM's ``envs``) its FLM pushes to the VIM (``infrastructure.function.configure``).
mano does the same, and without an SSM reads the payload itself::

    envs: {KEY: value}                       # every VNF of the service
    functions:
      vnf_firewall: {envs: {KEY: value}}     # the instances of one network function (vnf_id)
      <VNF instance id>: {envs: {...}}       # one instance
                                             # (other keys of an entry go to its configure FSM as data.config)

Later sources win: the payload's ``envs``, then its ``functions`` entry by vnf_id, then by
instance id, then the configure SSM's answer for the VNF, then its FSM's ``envs``. The payload is
checked when the operation is requested (:func:`check_payload`), so a malformed one is refused
with where it is wrong instead of failing half-way.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from mano.errors import BadRequestError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable may be called (a VIM driver checks what reaches it too)."""


def envs_of(value: Any) -> dict[str, str]:
    """Environment values from a mapping, or from SONATA's FSM list ``[{cdu_id, envs}]`` (merged)."""
    if isinstance(value, Mapping):
        return {str(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        merged: dict[str, str] = {}
        for unit in value:
            if isinstance(unit, Mapping):
                merged.update(envs_of(unit.get("envs")))
        return merged
    return {}


def function_envs(payload: Mapping[str, Any], vnf_id: str, instance_id: str) -> dict[str, str]:
    """The payload's environment for one VNF instance (its ``envs``, then its entries)."""
    functions = payload.get("functions") or {}
    return {**envs_of(payload.get("envs")),
            **envs_of((functions.get(vnf_id) or {}).get("envs")),
            **envs_of((functions.get(instance_id) or {}).get("envs"))}


def function_config(payload: Mapping[str, Any], vnf_id: str, instance_id: str) -> dict[str, Any]:
    """The payload's other settings for one VNF instance (its ``functions`` entries without
    ``envs``): what its configure FSM is given as ``data.config``."""
    functions = payload.get("functions") or {}
    merged = {**(functions.get(vnf_id) or {}), **(functions.get(instance_id) or {})}
    merged.pop("envs", None)
    return merged


def check_payload(payload: Any, vnf_ids: set[str], instance_ids: set[str]) -> None:
    """Refuse a payload whose ``envs``/``functions`` mano cannot apply, saying where."""
    if payload is None:
        return
    if not isinstance(payload, Mapping):
        raise BadRequestError("reconfiguration_payload is not a mapping")
    _check_envs(payload.get("envs"), "reconfiguration_payload.envs")
    functions = payload.get("functions")
    if functions is None:
        return
    if not isinstance(functions, Mapping):
        raise BadRequestError("reconfiguration_payload.functions is not a mapping")
    for key, entry in functions.items():
        where = f"reconfiguration_payload.functions.{key}"
        if key not in vnf_ids and key not in instance_ids:
            raise BadRequestError(f"{where}: the service has no network function or live VNF instance {key!r}")
        if not isinstance(entry, Mapping):
            raise BadRequestError(f"{where} is not a mapping")
        _check_envs(entry.get("envs"), f"{where}.envs")


def _check_envs(envs: Any, where: str) -> None:
    if envs is None:
        return
    if not isinstance(envs, Mapping):
        raise BadRequestError(f"{where} is not a mapping of names to values")
    for name, value in envs.items():
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise BadRequestError(f"{where}: {name!r} is not an environment variable name")
        if isinstance(value, (Mapping, list, tuple, set)) or value is None:
            raise BadRequestError(f"{where}.{name}: a value must be a string or number, got {value!r}")
        if "\n" in _text(value) or "\0" in _text(value):
            raise BadRequestError(f"{where}.{name}: a value may not hold a newline or NUL")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
