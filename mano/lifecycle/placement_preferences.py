"""The placement preferences of one request: SONATA's operator, customer and developer policies.

A request may carry them (the Python API's ``mano.instantiate(nsd, policy=..., blacklist=...)``,
the CLI's ``--policy``/``--priority``/``--blacklist``, the gatekeeper's ``user_data`` and
``ingresses``/``egresses``); what it leaves out comes from the operator's default
(``MANO_PLACEMENT_POLICY``). They are checked at admission, so a misspelt policy is refused with
its reason instead of reaching the engine (which would fail, and the runtime fall back to first
fit), and stored on the operation, so the place step (and a resumed one) reads them back.

* ``policy``: ``load balanced``, ``fill first``, ``priority`` (with ``policy_list``, PoP names or
  uuids, most preferred first) or ``none``;
* ``blacklist``: PoP names or cities the customer refuses;
* ``weights``: ``{operator, developer}``; a developer weight makes the NSD's proximity and
  affinity wishes count (proximity to the ``ingresses``/``egresses``, ``[{location, nap}]``).
"""
from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mano.errors import BadRequestError
from placement import OperatorPolicy

KEYS = ("policy", "policy_list", "blacklist", "weights", "ingresses", "egresses")


class Endpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    location: str = Field(min_length=1)
    nap: str = ""


class Weights(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: float = Field(default=1.0, ge=0)
    developer: float = Field(default=0.0, ge=0)


class PlacementPreferences(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    policy: str = "load balanced"
    policy_list: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()
    weights: Weights = Weights()
    ingresses: tuple[Endpoint, ...] = ()
    egresses: tuple[Endpoint, ...] = ()

    @field_validator("policy", mode="before")
    @classmethod
    def _known_policy(cls, value: Any) -> str:
        try:
            return OperatorPolicy.parse(value).value
        except Exception as exc:  # placement's PlacementError: the message names the choices
            raise ValueError(str(exc)) from None

    @field_validator("policy_list", "blacklist", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        return tuple(str(v) for v in value)

    @classmethod
    def from_request(cls, params: Mapping[str, Any] | None, default_policy: str | None = None) -> PlacementPreferences:
        """The preferences in a request's parameters (``default_policy`` where it names none).

        Raises:
            BadRequestError: a preference is malformed (the message says which and why).
        """
        given = {k: v for k, v in (params or {}).items() if k in KEYS and v is not None}
        if default_policy is not None:
            given.setdefault("policy", default_policy)
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"]) or "placement preferences"
            raise BadRequestError(f"bad placement preference {where}: {err['msg']}") from None

    def to_params(self) -> dict[str, Any]:
        """The request parameters that say exactly this (stored on the operation)."""
        return self.model_dump(mode="json")
