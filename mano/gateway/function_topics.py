"""SONATA's FLM topics, ``mano.function.*``: a SONATA SLM drives mano's FLM over AMQP.

Pure translation (no broker, no Ray): a SONATA FLM request in, mano's
:class:`~mano.lifecycle.ports.FunctionDeployment` / :class:`~mano.lifecycle.ports.FunctionAction`
out to the :class:`Functions` port (the gateway actor hands it the FLM actor), and SONATA's
reply back. Checked against son-mano-framework's FLM (``son_mano_flm/flm.py``) at v5.1.

**Requests** (YAML), as SONATA's SLM sends them:

=============================  ====================================================  ===========================
topic                          request                                               what mano does
=============================  ====================================================  ===========================
``mano.function.deploy``       ``{vnfd, id, vim_uuid, serv_id, flavour,              deploy the VNF instance
                               public_key, private_key}``                            ``id`` on PoP ``vim_uuid``
``mano.function.start``        ``{vnf_id, vnfd, serv_id, data}``                     start it; ``data.generic_envs``
                                                                                     are injected first
``mano.function.configure``    ``{vnf_id, vnfd, serv_id, data}``                     inject ``data.generic_envs``
``mano.function.stop``         ``{vnf_id, vnfd, serv_id, data}``                     stop it
``mano.function.remove``       ``{vnf_id, vim_id, serv_id}``                         remove it from its VIM
=============================  ====================================================  ===========================

* ``flavour`` names one of the VNFD's ``deployment_flavours``, whose fields replace the VNFD's
  (SONATA's FLM does the same); the keys are not used: mano's VIM drivers inject none.
* ``generic_envs`` are SONATA's ``{NAME: value}`` or its FSMs' ``[{cdu_id, envs}]``
  (:func:`mano.lifecycle.reconfiguration.envs_of`).
* The VNF is deployed on the VIM driver ``default_vim`` (``MANO_DEFAULT_VIM``): mano's PoPs are
  its VIM's, and SONATA's SLM names a PoP, not a driver. It joins no service network: a SONATA
  SLM creates those through its own infrastructure adaptor, which mano does not see.
* A start, stop or configure with neither FSM override nor envs does what mano's FLM does for
  them (the VNFR's state), where SONATA's answered "event ignored".

**Replies** on the same topic with the request's correlation id (``headers.type: reply``):

* deploy: ``{vnfr, status: COMPLETED, error: null, ip_mapping: []}``; a failure
  ``{status: failed, error, timestamp}`` (SONATA's ``flm_error``);
* start, stop, configure, remove: ``{vnf_id, status: COMPLETED|FAILED, error, message?,
  timestamp}`` (SONATA's ``respond_to_request``); a request that cannot be read
  ``{status: ERROR, error}`` with SONATA's texts where it had them ("Payload is not a
  dictionary", "vnf_uuid key not provided", "serv_id key not provided").
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Protocol, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mano.descriptors.models import Vnfd
from mano.errors import ManoError
from mano.gateway.core import Inbound
from mano.gateway.northbound import NO_CORRELATION_ID
from mano.lifecycle.ports import FunctionAction, FunctionDeployment
from mano.lifecycle.reconfiguration import envs_of

DEPLOY = "mano.function.deploy"
START = "mano.function.start"
CONFIGURE = "mano.function.configure"
STOP = "mano.function.stop"
REMOVE = "mano.function.remove"
TOPICS = (DEPLOY, START, CONFIGURE, STOP, REMOVE)


class Functions(Protocol):
    """What the topics need of mano's FLM (``actors.flm.FunctionLifecycleManager``)."""

    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]: ...
    def start(self, actions: Sequence[FunctionAction]) -> None: ...
    def stop(self, actions: Sequence[FunctionAction]) -> None: ...
    def configure(self, actions: Sequence[FunctionAction]) -> None: ...
    def remove(self, actions: Sequence[FunctionAction]) -> None: ...


class FunctionTopicError(ManoError):
    """A request that cannot be read; the message is the reply's ``error``."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class DeployRequest(_Model):
    id: str = Field(min_length=1)
    vnfd: dict[str, Any]
    vim_uuid: str = Field(min_length=1)
    serv_id: str = Field(min_length=1)
    flavour: str | None = None
    public_key: str | None = None
    private_key: str | None = None


class ActionRequest(_Model):
    vnf_id: str = Field(min_length=1)
    serv_id: str = Field(min_length=1)
    data: dict[str, Any] | None = None
    vim_id: str | None = None  # remove's: the PoP (the VNFR says where it is)


def answer(inbound: Inbound, functions: Functions, *, default_vim: str,
           clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """SONATA's reply to one ``mano.function.*`` request, whatever happens: a request that
    cannot be read, or an FLM that refuses or fails, is answered with the reason."""
    deploy = inbound.topic == DEPLOY
    try:
        if inbound.malformed is not None:
            raise FunctionTopicError(f"payload is not valid YAML/JSON: {inbound.malformed}")
        if not inbound.correlation_id:
            raise FunctionTopicError(NO_CORRELATION_ID)
        if deploy:
            return _deploy(_parse(inbound.body, DeployRequest), functions, default_vim)
        return _act(inbound.topic, _parse(inbound.body, ActionRequest), functions, default_vim, clock)
    except FunctionTopicError as exc:
        return _failed(str(exc), clock) if deploy else {"status": "ERROR", "error": str(exc)}
    except ManoError as exc:  # the FLM's refusal or failure (unknown VNF, VIM error, ...)
        body = inbound.body if isinstance(inbound.body, Mapping) else {}
        if deploy:
            return _failed(str(exc), clock)
        return _outcome(str(body.get("vnf_id") or ""), str(exc), None, clock)


def _parse(body: Any, model: type[_Model]) -> Any:
    if not isinstance(body, Mapping):
        raise FunctionTopicError("Payload is not a dictionary")
    if model is ActionRequest:
        for key, text in (("vnf_id", "vnf_uuid key not provided"), ("serv_id", "serv_id key not provided")):
            if not body.get(key):
                raise FunctionTopicError(text)
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        raise FunctionTopicError(f"{where}: {'required field is missing' if err['type'] == 'missing' else err['msg']}"
                                 ) from None


def _deploy(request: DeployRequest, functions: Functions, default_vim: str) -> dict[str, Any]:
    vnfd = _flavoured(request.vnfd, request.flavour)
    try:
        typed = Vnfd.model_validate(vnfd)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise FunctionTopicError(f"vnfd.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    [vnfr] = functions.deploy([FunctionDeployment(service_id=request.serv_id, vnf_instance_id=request.id,
                                                  vnf_id=typed.name, vnfd=typed, pop=request.vim_uuid,
                                                  vim=default_vim)])
    return {"vnfr": vnfr, "status": "COMPLETED", "error": None, "ip_mapping": []}


def _flavoured(vnfd: Mapping[str, Any], flavour: str | None) -> dict[str, Any]:
    """The VNFD with the named deployment flavour's fields in place of its own, as SONATA's FLM
    builds it; ``deployment_flavours`` itself is dropped."""
    out = {k: v for k, v in vnfd.items() if k != "deployment_flavours"}
    if not flavour:
        return out
    flavours = vnfd.get("deployment_flavours") or []
    chosen = next((f for f in flavours if isinstance(f, Mapping) and f.get("name") == flavour), None)
    if chosen is None:
        names = ", ".join(str(f.get("name")) for f in flavours if isinstance(f, Mapping)) or "none"
        raise FunctionTopicError(f"flavour {flavour!r} is not one of the VNFD's deployment_flavours ({names})")
    out.update({k: v for k, v in chosen.items() if k != "name"})
    return out


def _act(topic: str, request: ActionRequest, functions: Functions, default_vim: str,
         clock: Callable[[], float]) -> dict[str, Any]:
    data = request.data or {}
    envs = envs_of(data.get("generic_envs"))
    action = FunctionAction(service_id=request.serv_id, vnf_instance_id=request.vnf_id)
    message = None
    if topic in (START, CONFIGURE) and envs:
        functions.configure([FunctionAction(request.serv_id, request.vnf_id, {"envs": envs})])
        message = "Env injection successful"  # SONATA's text
    if topic == START:
        functions.start([action])
    elif topic == STOP:
        functions.stop([action])
    elif topic == CONFIGURE and not envs:
        functions.configure([action])  # checks the VNF can be configured
    elif topic == REMOVE:
        # ``vim_id`` is a PoP; the VNFR knows its VIM driver (the default one, if it has none)
        functions.remove([FunctionAction(request.serv_id, request.vnf_id, {"vim": default_vim})])
    return _outcome(request.vnf_id, None, message, clock)


def _outcome(vnf_id: str, error: str | None, message: str | None, clock: Callable[[], float]) -> dict[str, Any]:
    body: dict[str, Any] = {"timestamp": clock(), "error": error, "vnf_id": vnf_id,
                            "status": "COMPLETED" if error is None else "FAILED"}
    if message is not None:
        body["message"] = message
    return body


def _failed(error: str, clock: Callable[[], float]) -> dict[str, Any]:
    return {"status": "failed", "error": error, "timestamp": clock()}
