"""The SOL005 NS lifecycle API over HTTP (FastAPI): a thin shell over the Python API.

Imported only to serve it (FastAPI is loaded with this module). ``create_app(rt)`` builds the application on a running runtime (:class:`mano.api.Runtime`);
:func:`serve` runs it with uvicorn in a thread of the runtime's process (``mano up --api``).

Resources (``/nslcm/v1``, ETSI GS NFV-SOL 005 v3; representations in :mod:`mano.rest.sol005`):

=================================================  =========================================
``GET  /ns_instances[?filter=...]``                the services, as ``NsInstance``
``GET  /ns_instances/{id}``                        one
``POST /ns_instances/{id}/terminate``              202, ``Location`` of the ``NsLcmOpOcc``
``POST /ns_instances/{id}/scale``                  SCALE_VNF: ``scaleVnfData[{scaleVnfType:
                                                   SCALE_OUT|SCALE_IN, scaleByStepData{aspectId:
                                                   <NSD vnf_id>, numberOfSteps}}]`` (one entry)
``POST /ns_instances/{id}/heal``                   ``healVnfData[{vnfInstanceId}]`` (one entry)
``GET  /ns_lcm_op_occs[?filter=...]``              the operations, as ``NsLcmOpOcc``
``GET  /ns_lcm_op_occs/{id}``                      one
``POST /ns_lcm_op_occs/{id}/retry|rollback``       a FAILED_TEMP operation: 202
``POST /ns_lcm_op_occs/{id}/cancel``               a PROCESSING one (``cancelMode`` GRACEFUL): 202
=================================================  =========================================

``filter`` is SOL013's attribute filter, ``(eq,attr,value)`` and ``(neq,attr,value)`` terms
joined by ``;`` (``attr`` a dotted path). Every error is a ``ProblemDetails`` (RFC 7807):
400 a request that cannot be read, 404 an unknown id, 409 a state that forbids the task (a
busy or terminated service, an operation that is not held or not running), 422 what mano does
not do (FORCEFUL cancel), 503 a runtime part that does not answer. The OpenAPI document is at
``/openapi.json``.

Not yet here (issue "A standard northbound"): NSD management and the create/instantiate pair,
subscriptions and notifications, tenants, roles and tokens. The server listens on loopback by
default (``MANO_API_ADDR``) because nothing authenticates a caller yet.
"""
from __future__ import annotations

import re
import threading
from typing import Any, Callable

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mano import errors
from mano.rest import sol005

ROOT = sol005.ROOT
_TERM = re.compile(r"\((eq|neq),([^,()]+),([^()]*)\)")


class ProblemError(Exception):
    """An HTTP error with SOL005's ``ProblemDetails`` body."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def parse_filter(text: str | None) -> list[tuple[str, str, str]]:
    """SOL013's ``filter``: ``(op, attribute path, value)`` terms; a 400 if it cannot be read."""
    if not text:
        return []
    terms = text.split(";")
    parsed = [(_TERM.fullmatch(term.strip()), term) for term in terms]
    bad = [term for match, term in parsed if match is None]
    if bad:
        raise ProblemError(400, "Bad filter", f"filter term {bad[0]!r}: expected (eq,attribute,value) or "
                                              "(neq,attribute,value), terms joined by ';'")
    return [match.groups() for match, _ in parsed]  # type: ignore[union-attr]


def _kept(entries: list[dict[str, Any]], terms: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    def keep(entry: dict[str, Any]) -> bool:
        for op, path, value in terms:
            holds = sol005.matches(entry, [(path, value)])
            if holds != (op == "eq"):
                return False
        return True
    return [e for e in entries if keep(e)]


# mano's errors -> (HTTP status, title)
_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (errors.UnknownInstanceError, 404, "Not Found"),
    (errors.UnknownOperationError, 404, "Not Found"),
    (errors.InstanceBusyError, 409, "Conflict"),
    (errors.AlreadyTerminatedError, 409, "Conflict"),
    (errors.OperationNotHeldError, 409, "Conflict"),
    (errors.OperationNotRunningError, 409, "Conflict"),
    (errors.DescriptorError, 400, "Bad Request"),
    (errors.StoreUnavailableError, 503, "Service Unavailable"),
    (errors.LifecycleError, 409, "Conflict"),
)


def _as_problem(exc: BaseException) -> ProblemError:
    if isinstance(exc, ProblemError):
        return exc
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            return ProblemError(status, title, str(exc))
    if isinstance(exc, errors.ManoError) and getattr(exc, "retryable", False):
        return ProblemError(503, "Service Unavailable", str(exc))
    return ProblemError(500, "Internal Server Error", f"{type(exc).__name__}: {exc}")


def create_app(rt: Any) -> Any:
    """The FastAPI application on runtime ``rt`` (what :func:`mano.init` returned)."""
    import mano

    app = FastAPI(title="mano NS lifecycle management (ETSI GS NFV-SOL 005)", version="3.7.1",
                  description="mano's services and operations as SOL005 NS instances and NS LCM operation "
                              "occurrences.")

    @app.exception_handler(ProblemError)
    def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(sol005.problem(exc.status, exc.title, exc.detail, instance=str(request.url.path)),
                            status_code=exc.status, media_type="application/problem+json")

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _problem(request, ProblemError(400, "Bad Request", f"{where}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _problem(request, _as_problem(exc))

    def answer(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ProblemError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is a ProblemDetails
            raise _as_problem(exc) from exc

    def instance(service_id: str) -> dict[str, Any]:
        record = answer(lambda: mano.get(service_id).record)
        vnfrs = {v.id: v for v in rt.store.vnfr.find({"service_id": service_id})}
        return sol005.ns_instance(record, vnfrs)

    def accepted(op_id: str) -> JSONResponse:
        op = answer(lambda: mano.operation(op_id))
        return JSONResponse(occurrence(op), status_code=202, headers={"Location": f"{ROOT}/ns_lcm_op_occs/{op_id}"})

    def occurrence(op: Any) -> dict[str, Any]:
        pending = op.state.value == "PROCESSING" and rt.store.cancellations.find_one(op.id) is not None
        return sol005.op_occ(op, cancel_pending=pending)

    @app.get(f"{ROOT}/api_versions")
    def api_versions() -> dict[str, Any]:
        return {"uriPrefix": ROOT, "apiVersions": [{"version": "3.7.1", "isDeprecated": False}]}

    @app.get(f"{ROOT}/ns_instances")
    def list_ns_instances(filter: str | None = None) -> list[dict[str, Any]]:  # noqa: A002 - SOL013's name
        terms = parse_filter(filter)
        records = answer(lambda: rt.store.services.find({}, sort="created_at"))
        vnfrs: dict[str, Any] = {v.id: v for v in answer(lambda: rt.store.vnfr.find({}))}
        return _kept([sol005.ns_instance(r, vnfrs) for r in records], terms)

    @app.get(f"{ROOT}/ns_instances/{{ns_instance_id}}")
    def get_ns_instance(ns_instance_id: str) -> dict[str, Any]:
        return instance(ns_instance_id)

    @app.post(f"{ROOT}/ns_instances/{{ns_instance_id}}/terminate", status_code=202)
    def terminate(ns_instance_id: str, body: dict[str, Any] | None = Body(default=None)) -> JSONResponse:
        if body and body.get("terminationTime"):
            raise ProblemError(422, "Unprocessable Entity", "terminationTime: mano terminates at once only")
        service = answer(lambda: mano.get(ns_instance_id).terminate(wait=False))
        return accepted(service.last_operation)

    @app.post(f"{ROOT}/ns_instances/{{ns_instance_id}}/scale", status_code=202)
    def scale(ns_instance_id: str, body: dict[str, Any] = Body(...)) -> JSONResponse:
        if body.get("scaleType") != "SCALE_VNF":
            raise ProblemError(422, "Unprocessable Entity",
                               f"scaleType {body.get('scaleType')!r}: mano scales VNFs only (SCALE_VNF)")
        data = body.get("scaleVnfData")
        if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
            raise ProblemError(400, "Bad Request", "scaleVnfData: expected one entry")
        entry = data[0]
        step = entry.get("scaleByStepData") if isinstance(entry.get("scaleByStepData"), dict) else {}
        vnf_id, steps = step.get("aspectId"), step.get("numberOfSteps", 1)
        if not isinstance(vnf_id, str) or not vnf_id:
            raise ProblemError(400, "Bad Request", "scaleVnfData[0].scaleByStepData.aspectId: the NSD vnf_id to scale")
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ProblemError(400, "Bad Request", "scaleVnfData[0].scaleByStepData.numberOfSteps: a positive integer")
        kind = entry.get("scaleVnfType")
        service = answer(lambda: mano.get(ns_instance_id))
        if kind == "SCALE_OUT":
            answer(lambda: service.scale_out(vnf_id, steps, wait=False))
        elif kind == "SCALE_IN":
            answer(lambda: service.scale_in(vnf_id, steps, wait=False))
        else:
            raise ProblemError(400, "Bad Request", "scaleVnfData[0].scaleVnfType: SCALE_OUT or SCALE_IN")
        return accepted(service.last_operation)

    @app.post(f"{ROOT}/ns_instances/{{ns_instance_id}}/heal", status_code=202)
    def heal(ns_instance_id: str, body: dict[str, Any] = Body(...)) -> JSONResponse:
        data = body.get("healVnfData")
        if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict) \
                or not isinstance(data[0].get("vnfInstanceId"), str):
            raise ProblemError(400, "Bad Request", "healVnfData: expected one entry with its vnfInstanceId")
        service = answer(lambda: mano.get(ns_instance_id))
        answer(lambda: service.heal(data[0]["vnfInstanceId"], wait=False))
        return accepted(service.last_operation)

    @app.get(f"{ROOT}/ns_lcm_op_occs")
    def list_op_occs(filter: str | None = None) -> list[dict[str, Any]]:  # noqa: A002 - SOL013's name
        terms = parse_filter(filter)
        ops = answer(lambda: rt.store.operations.find({}, sort="created_at"))
        return _kept([occurrence(op) for op in ops], terms)

    @app.get(f"{ROOT}/ns_lcm_op_occs/{{op_occ_id}}")
    def get_op_occ(op_occ_id: str) -> dict[str, Any]:
        return occurrence(answer(lambda: mano.operation(op_occ_id)))

    @app.post(f"{ROOT}/ns_lcm_op_occs/{{op_occ_id}}/retry", status_code=202)
    def retry(op_occ_id: str) -> JSONResponse:
        answer(lambda: mano.retry(op_occ_id, wait=False))
        return accepted(op_occ_id)

    @app.post(f"{ROOT}/ns_lcm_op_occs/{{op_occ_id}}/rollback", status_code=202)
    def rollback(op_occ_id: str) -> JSONResponse:
        answer(lambda: mano.rollback(op_occ_id, wait=False))
        return accepted(op_occ_id)

    @app.post(f"{ROOT}/ns_lcm_op_occs/{{op_occ_id}}/cancel", status_code=202)
    def cancel(op_occ_id: str, body: dict[str, Any] | None = Body(default=None)) -> JSONResponse:
        mode = (body or {}).get("cancelMode", "GRACEFUL")
        if mode != "GRACEFUL":
            raise ProblemError(422, "Unprocessable Entity", f"cancelMode {mode!r}: mano cancels GRACEFUL only (at the "
                                                            "operation's next step boundary)")
        answer(lambda: mano.cancel(op_occ_id, wait=False))
        return accepted(op_occ_id)

    return app


class ApiServer:
    """The API served by uvicorn on a daemon thread; :meth:`stop` ends it."""

    def __init__(self, rt: Any, host: str, port: int):
        import uvicorn
        config = uvicorn.Config(create_app(rt), host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mano-api", daemon=True)
        self.host, self.port = host, port

    def start(self, timeout: float = 20.0) -> "ApiServer":
        import time
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise errors.ManoError(f"the HTTP API did not start on {self.host}:{self.port}")
            time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def serve(rt: Any, address: str = "127.0.0.1:8080") -> ApiServer:
    """Serve the API on ``address`` (``HOST:PORT``) from this process; returns once it listens."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"MANO_API_ADDR={address!r}: expected HOST:PORT")
    return ApiServer(rt, host, int(port)).start()
