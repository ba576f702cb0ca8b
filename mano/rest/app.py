"""The SOL005 NS lifecycle API over HTTP (FastAPI): a thin shell over the Python API.

Imported only to serve it (FastAPI is loaded with this module). ``create_app(rt)`` builds the
application on a running runtime (:class:`mano.api.Runtime`); :func:`serve` runs it with
uvicorn in a thread of the runtime's process (``mano up --api``).

Resources (``/nslcm/v1``, ETSI GS NFV-SOL 005 v3; representations in :mod:`mano.rest.sol005`):

=================================================  =========================================
``POST /nsd/v1/ns_descriptors``                   201: an ``NsdInfo``, CREATED
``PUT  /nsd/v1/ns_descriptors/{id}/nsd_content``   a zip of a SONATA package (the NSD and its
                                                   VNFDs): 204, ONBOARDED; 400 with the reason
``GET|DELETE /nsd/v1/ns_descriptors[/{id}]``       the NSD infos; delete one no instance uses
``POST /ns_instances``                             ``{nsdId, nsName, nsDescription}``: 201, an
                                                   ``NsInstance`` NOT_INSTANTIATED
``POST /ns_instances/{id}/instantiate``            202: the service is instantiated under that
                                                   id (``additionalParamsForNs``: ``vim``,
                                                   ``policy``, ``blacklist``, ``ingresses``...)
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
``POST /subscriptions``                            a ``LccnSubscriptionRequest``: 201 (its
                                                   ``signingSecret`` answered once), 303 if the
                                                   same exists, 422 if the callback fails its test
``GET|DELETE /subscriptions[/{id}]``               the ``LccnSubscription`` s; delete one
=================================================  =========================================

Notifications (``NsLcmOperationOccurrenceNotification`` on every change of an operation, and
``NsIdentifierCreationNotification``) are queued in the store and POSTed to each subscriber in
order, signed, and retried until delivered: :mod:`mano.rest.notifications`.

For mano's own CLI, ``/mano/v1`` serves its records as they are: ``GET /services[?state=]``,
``/services/{id}/operations`` and ``/operations/{id}`` (what ``mano ls``, ``ops`` and ``op show``
print, read without starting a Ray driver).

``filter`` is SOL013's attribute filter, ``(eq,attr,value)`` and ``(neq,attr,value)`` terms
joined by ``;`` (``attr`` a dotted path). Every error is a ``ProblemDetails`` (RFC 7807):
400 a request that cannot be read or whose parameters are wrong (a malformed placement preference,
a VNF the service does not have), 404 an unknown id, 409 a state that forbids the task (a
busy or terminated service, an operation that is not held or not running), 422 what mano does
not do (FORCEFUL cancel), 503 a runtime part that does not answer. The OpenAPI document is at
``/openapi.json``.

Not yet here (issue "A standard northbound"): VNF packages, deleting an NS instance, tenants,
roles and tokens. The server listens on loopback by
default (``MANO_API_ADDR``) because nothing authenticates a caller yet.
"""
from __future__ import annotations

import io
import re
import tempfile
import threading
import uuid
import zipfile
from pathlib import Path
from typing import Any, Callable

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mano import errors
from mano.records import NsdInfoRecord, NsIdentifierRecord
from mano.rest import notifications, sol005

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
    return [e for e in entries if all(sol005.holds(e, path, value) == (op == "eq") for op, path, value in terms)]


# mano's errors -> (HTTP status, title)
_STATUS: tuple[tuple[type[BaseException], int, str], ...] = (
    (errors.UnknownInstanceError, 404, "Not Found"),
    (errors.UnknownOperationError, 404, "Not Found"),
    (errors.InstanceBusyError, 409, "Conflict"),
    (errors.AlreadyTerminatedError, 409, "Conflict"),
    (errors.OperationNotHeldError, 409, "Conflict"),
    (errors.OperationNotRunningError, 409, "Conflict"),
    (errors.DescriptorError, 400, "Bad Request"),
    (errors.BadRequestError, 400, "Bad Request"),
    (errors.StoreUnavailableError, 503, "Service Unavailable"),
    (errors.LifecycleError, 409, "Conflict"),
)


def bad_request(problems: Any, what: str = "body") -> ProblemError:
    """A 400 saying where the first of pydantic's (or FastAPI's) validation errors is and why."""
    first = problems[0] if problems else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or what
    return ProblemError(400, "Bad Request", f"{where}: {first.get('msg', 'invalid')}")


def _as_problem(exc: BaseException) -> ProblemError:
    if isinstance(exc, ProblemError):
        return exc
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            return ProblemError(status, title, str(exc))
    if isinstance(exc, errors.ManoError) and getattr(exc, "retryable", False):
        return ProblemError(503, "Service Unavailable", str(exc))
    return ProblemError(500, "Internal Server Error", f"{type(exc).__name__}: {exc}")


def package_of(content: bytes, max_bytes: int) -> Any:
    """The SONATA package a zip holds (its ``.yml``/``.yaml`` files, wherever they are in it),
    loaded and validated; a :class:`ProblemError` says why not."""
    from mano.descriptors import load_service
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise ProblemError(400, "Bad Request", "nsd_content: not a zip archive") from None
    members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith((".yml", ".yaml"))]
    if not members:
        raise ProblemError(400, "Bad Request", "nsd_content: the archive holds no .yml or .yaml file")
    if sum(m.file_size for m in members) > 16 * max_bytes:
        raise ProblemError(413, "Content Too Large", f"nsd_content: more than {16 * max_bytes} bytes of descriptors")
    names = [Path(m.filename).name for m in members]
    if len(set(names)) != len(names):
        raise ProblemError(400, "Bad Request", "nsd_content: two descriptors have the same file name")
    with tempfile.TemporaryDirectory(prefix="mano-nsd-") as folder:
        for member, name in zip(members, names):  # flattened: no path from the archive is used
            (Path(folder) / name).write_bytes(archive.read(member))
        try:
            return load_service(folder, max_bytes=max_bytes)
        except errors.DescriptorError as exc:
            raise ProblemError(400, "Bad Request", f"nsd_content: {exc}") from None


def create_app(rt: Any) -> Any:
    """The FastAPI application on runtime ``rt`` (what :func:`mano.init` returned)."""
    import mano

    notifier = notifications.Notifier(rt.store)
    app = FastAPI(title="mano NS lifecycle management (ETSI GS NFV-SOL 005)", version="3.7.1",
                  description="mano's services and operations as SOL005 NS instances and NS LCM operation "
                              "occurrences.")

    app.state.notifier = notifier
    app.state.notifier_thread = None

    def notified() -> None:
        """Deliver what was just queued without waiting for the next poll."""
        if app.state.notifier_thread is not None:
            app.state.notifier_thread.wake()

    @app.exception_handler(ProblemError)
    def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(sol005.problem(exc.status, exc.title, exc.detail, instance=str(request.url.path)),
                            status_code=exc.status, media_type="application/problem+json")

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(request, bad_request(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:  # an unknown path, a wrong method
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        return _problem(request, ProblemError(exc.status_code, title, f"{request.method} {request.url.path}: "
                                                                      f"{exc.detail}"))

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
        record = rt.store.services.find_one(service_id)
        if record is None:
            identifier = rt.store.ns_identifiers.find_one(service_id)
            if identifier is None:
                raise ProblemError(404, "Not Found", f"no NS instance {service_id!r}")
            return sol005.not_instantiated(
                identifier, nsd_id_for(identifier, rt.store.ns_descriptors.find_one(identifier.nsd_info_id)))
        vnfrs = {v.id: v for v in rt.store.vnfr.find({"service_id": service_id})}
        return named(sol005.ns_instance(record, vnfrs), rt.store.ns_identifiers.find_one(service_id))

    def named(body: dict[str, Any], identifier: NsIdentifierRecord | None) -> dict[str, Any]:
        """A service created through ``POST /ns_instances`` keeps the name its creator gave it."""
        if identifier is not None:
            body.update({"nsInstanceName": identifier.name, "nsInstanceDescription": identifier.description,
                         "nsdInfoId": identifier.nsd_info_id})
        return body

    def nsd_id_for(identifier: NsIdentifierRecord, info: NsdInfoRecord | None) -> str:
        return sol005.nsd_id_of(info.nsd) if info is not None and info.nsd else identifier.nsd_info_id

    def nsd_info_record(nsd_info_id: str) -> NsdInfoRecord:
        record = rt.store.ns_descriptors.find_one(nsd_info_id)
        if record is None:
            raise ProblemError(404, "Not Found", f"no NSD info {nsd_info_id!r}")
        return record

    # --- NSD management (/nsd/v1) -------------------------------------------------------------
    nsd_root = sol005.NSD_ROOT

    @app.post(f"{nsd_root}/ns_descriptors", status_code=201)
    def create_nsd_info(body: dict[str, Any] | None = Body(default=None)) -> JSONResponse:
        data = (body or {}).get("userDefinedData") or {}
        if not isinstance(data, dict):
            raise ProblemError(400, "Bad Request", "userDefinedData: expected an object")
        record = answer(lambda: rt.store.ns_descriptors.insert(NsdInfoRecord(id=str(uuid.uuid4()),
                                                                            user_defined_data=data)))
        return JSONResponse(sol005.nsd_info(record), status_code=201,
                            headers={"Location": f"{nsd_root}/ns_descriptors/{record.id}"})

    @app.get(f"{nsd_root}/ns_descriptors")
    def list_nsd_infos(filter: str | None = None) -> list[dict[str, Any]]:  # noqa: A002 - SOL013's name
        terms = parse_filter(filter)
        return _kept([sol005.nsd_info(r) for r in answer(lambda: rt.store.ns_descriptors.find({}, sort="created_at"))],
                     terms)

    @app.get(f"{nsd_root}/ns_descriptors/{{nsd_info_id}}")
    def get_nsd_info(nsd_info_id: str) -> dict[str, Any]:
        return sol005.nsd_info(nsd_info_record(nsd_info_id))

    @app.put(f"{nsd_root}/ns_descriptors/{{nsd_info_id}}/nsd_content", status_code=204, response_class=Response)
    async def upload_nsd_content(nsd_info_id: str, request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("application/zip", "application/x-zip-compressed"):
            raise ProblemError(415, "Unsupported Media Type",
                               f"nsd_content as {kind or 'nothing'}: send a zip of the NSD and its VNFDs "
                               "(Content-Type: application/zip)")
        content = await request.body()

        def onboard() -> None:
            record = nsd_info_record(nsd_info_id)
            if record.onboarding_state != "CREATED":
                raise ProblemError(409, "Conflict", f"NSD info {nsd_info_id} is {record.onboarding_state} already")
            package = package_of(content, rt.settings.max_descriptor_bytes)
            answer(lambda: rt.store.ns_descriptors.update(record.evolve(
                onboarding_state="ONBOARDED", nsd=package.nsd.to_dict(),
                vnfds=tuple(v.to_dict() for v in package.unique_vnfds))))
        await run_in_threadpool(onboard)
        return Response(status_code=204)

    @app.delete(f"{nsd_root}/ns_descriptors/{{nsd_info_id}}", status_code=204, response_class=Response)
    def delete_nsd_info(nsd_info_id: str) -> Response:
        nsd_info_record(nsd_info_id)
        users = rt.store.ns_identifiers.find({"nsd_info_id": nsd_info_id})
        if users:
            raise ProblemError(409, "Conflict", f"NSD info {nsd_info_id} is used by NS instance {users[0].id}")
        answer(lambda: rt.store.ns_descriptors.delete(nsd_info_id, missing_ok=True))
        return Response(status_code=204)

    # --- NS instances: create, instantiate ------------------------------------------------------
    @app.post(f"{ROOT}/ns_instances", status_code=201)
    def create_ns_instance(body: dict[str, Any] = Body(...)) -> JSONResponse:
        nsd_ref, name = body.get("nsdId"), body.get("nsName")
        if not isinstance(nsd_ref, str) or not nsd_ref or not isinstance(name, str) or not name:
            raise ProblemError(400, "Bad Request", "CreateNsRequest: nsdId and nsName are required strings")
        infos = [i for i in answer(lambda: rt.store.ns_descriptors.find({}, sort="-created_at"))
                 if i.id == nsd_ref or (i.nsd is not None and sol005.nsd_id_of(i.nsd) == nsd_ref)]
        # an NsdInfo id names one; an nsdId onboarded more than once means its newest upload
        onboarded = sorted((i for i in infos if i.onboarding_state == "ONBOARDED"), key=lambda i: i.id != nsd_ref)
        if not onboarded:
            raise ProblemError(422 if infos else 404, "Unprocessable Entity" if infos else "Not Found",
                               f"NSD {nsd_ref!r} is " + ("not onboarded yet" if infos else "not known: onboard it at "
                                                         f"{nsd_root}/ns_descriptors"))
        identifier = answer(lambda: rt.store.ns_identifiers.insert(NsIdentifierRecord(
            id=str(uuid.uuid4()), nsd_info_id=onboarded[0].id, name=name,
            description=str(body.get("nsDescription") or ""))))
        notifier.queue_identifier(notifications.CREATION, identifier.id, nsd_id=nsd_ref, name=name)
        notified()
        return JSONResponse(instance(identifier.id), status_code=201,
                            headers={"Location": f"{ROOT}/ns_instances/{identifier.id}"})

    @app.post(f"{ROOT}/ns_instances/{{ns_instance_id}}/instantiate", status_code=202)
    def instantiate(ns_instance_id: str, body: dict[str, Any] | None = Body(default=None)) -> JSONResponse:
        from mano.descriptors import load_service
        identifier = rt.store.ns_identifiers.find_one(ns_instance_id)
        if identifier is None:
            raise ProblemError(404, "Not Found", f"no NS instance {ns_instance_id!r}")
        if rt.store.services.find_one(ns_instance_id) is not None:
            raise ProblemError(409, "Conflict", f"NS instance {ns_instance_id} is instantiated already")
        params = (body or {}).get("additionalParamsForNs") or {}
        if not isinstance(params, dict):
            raise ProblemError(400, "Bad Request", "additionalParamsForNs: expected an object")
        known = {"vim", "policy", "policy_list", "blacklist", "weights", "ingresses", "egresses", "pinned"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ProblemError(400, "Bad Request", f"additionalParamsForNs: {unknown[0]!r} is not one of "
                                                   f"{', '.join(sorted(known))}")
        info = nsd_info_record(identifier.nsd_info_id)
        package = answer(lambda: load_service(dict(info.nsd or {}), [dict(v) for v in info.vnfds],
                                              max_bytes=rt.settings.max_descriptor_bytes))
        service = answer(lambda: mano.instantiate(package, wait=False, service_id=ns_instance_id, **params))
        return accepted(service.last_operation)

    def accepted(op_id: str) -> JSONResponse:
        op = answer(lambda: mano.operation(op_id))
        notified()
        return JSONResponse(occurrence(op), status_code=202, headers={"Location": f"{ROOT}/ns_lcm_op_occs/{op_id}"})

    def occurrence(op: Any, cancels: set[str] | None = None) -> dict[str, Any]:
        """``cancels``: the ids with a cancel request, read once for a list (else asked here)."""
        if op.state.value != "PROCESSING":
            pending = False
        elif cancels is not None:
            pending = op.id in cancels
        else:
            pending = rt.store.cancellations.find_one(op.id) is not None
        return sol005.op_occ(op, cancel_pending=pending)

    @app.get(f"{ROOT}/api_versions")
    def api_versions() -> dict[str, Any]:
        return {"uriPrefix": ROOT, "apiVersions": [{"version": "3.7.1", "isDeprecated": False}]}

    @app.get(f"{ROOT}/ns_instances")
    def list_ns_instances(filter: str | None = None) -> list[dict[str, Any]]:  # noqa: A002 - SOL013's name
        terms = parse_filter(filter)
        records = answer(lambda: rt.store.services.find({}, sort="created_at"))
        vnfrs: dict[str, Any] = {v.id: v for v in answer(lambda: rt.store.vnfr.find({}))}
        services = {r.id for r in records}
        identifiers = {i.id: i for i in answer(lambda: rt.store.ns_identifiers.find({}, sort="created_at"))}
        infos = {i.id: i for i in answer(lambda: rt.store.ns_descriptors.find({}))} if identifiers else {}
        waiting = [sol005.not_instantiated(i, nsd_id_for(i, infos.get(i.nsd_info_id)))
                   for i in identifiers.values() if i.id not in services]
        return _kept([named(sol005.ns_instance(r, vnfrs), identifiers.get(r.id)) for r in records] + waiting, terms)

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
        cancels = {c.id for c in answer(lambda: rt.store.cancellations.find({}))}
        return _kept([occurrence(op, cancels) for op in ops], terms)

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

    # --- subscriptions to notifications (see mano.rest.notifications) -------------------------
    @app.post(f"{ROOT}/subscriptions", status_code=201)
    def subscribe(body: Any = Body(...)) -> JSONResponse:
        try:
            request = notifications.SubscriptionRequest.model_validate(body)
            record = notifications.subscription_of(request, str(uuid.uuid4()))
        except ValidationError as exc:
            raise bad_request(exc.errors(include_url=False), "LccnSubscriptionRequest") from None
        except notifications.UnsupportedAuthentication as exc:
            raise ProblemError(422, "Unprocessable Entity", str(exc)) from None
        for known in answer(lambda: rt.store.subscriptions.find({})):
            if (known.callback_uri, known.filter) == (record.callback_uri, record.filter):
                return Response(status_code=303,  # type: ignore[return-value] # SOL005: the same one exists
                                headers={"Location": f"{ROOT}/subscriptions/{known.id}"})
        failed = notifications.test_callback(record)
        if failed:
            raise ProblemError(422, "Unprocessable Entity", failed)
        answer(lambda: rt.store.subscriptions.insert(record))
        # the secret is answered this once: the subscriber checks each notification's signature with it
        return JSONResponse({**notifications.lccn_subscription(record), "signingSecret": record.secret},
                            status_code=201, headers={"Location": f"{ROOT}/subscriptions/{record.id}"})

    def subscription(subscription_id: str) -> Any:
        record = answer(lambda: rt.store.subscriptions.find_one(subscription_id))
        if record is None:
            raise ProblemError(404, "Not Found", f"no subscription {subscription_id!r}")
        return record

    @app.get(f"{ROOT}/subscriptions")
    def list_subscriptions(filter: str | None = None) -> list[dict[str, Any]]:  # noqa: A002 - SOL013's name
        terms = parse_filter(filter)
        return _kept([notifications.lccn_subscription(r)
                      for r in answer(lambda: rt.store.subscriptions.find({}, sort="created_at"))], terms)

    @app.get(f"{ROOT}/subscriptions/{{subscription_id}}")
    def get_subscription(subscription_id: str) -> dict[str, Any]:
        return notifications.lccn_subscription(subscription(subscription_id))

    @app.delete(f"{ROOT}/subscriptions/{{subscription_id}}", status_code=204, response_class=Response)
    def unsubscribe(subscription_id: str) -> Response:
        subscription(subscription_id)
        answer(lambda: rt.store.subscriptions.delete(subscription_id, missing_ok=True))
        answer(lambda: notifier.forget(subscription_id))
        return Response(status_code=204)

    # --- mano's own records, for the CLI (``mano ls``, ``ops``, ``op show`` without Ray) -------
    @app.get("/mano/v1/services")
    def mano_services(state: str | None = None) -> list[dict[str, Any]]:
        from mano.states import ServiceState
        try:
            query = {"state": ServiceState(state.upper()).value} if state else None
        except ValueError:
            raise ProblemError(400, "Bad Request", f"state {state!r}: expected one of "
                                                   f"{', '.join(s.value for s in ServiceState)}") from None
        return [r.model_dump(mode="json") for r in answer(lambda: rt.store.services.find(query, sort="created_at"))]

    @app.get("/mano/v1/services/{service_id}/operations")
    def mano_operations(service_id: str) -> list[dict[str, Any]]:
        if rt.store.services.find_one(service_id) is None:
            raise ProblemError(404, "Not Found", f"no service instance {service_id!r}")
        return [o.model_dump(mode="json")
                for o in answer(lambda: rt.store.operations.find({"service_id": service_id}, sort="created_at"))]

    @app.get("/mano/v1/operations/{operation_id}")
    def mano_operation(operation_id: str) -> dict[str, Any]:
        return answer(lambda: mano.operation(operation_id)).model_dump(mode="json")

    return app


class ApiServer:
    """The API served by uvicorn on a daemon thread; :meth:`stop` ends it."""

    def __init__(self, rt: Any, host: str, port: int):
        import uvicorn
        app = create_app(rt)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self.notifier = notifications.NotifierThread(app.state.notifier)
        app.state.notifier_thread = self.notifier
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
        self.notifier.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.notifier.stop(timeout)
        self._server.should_exit = True
        self._thread.join(timeout)


def serve(rt: Any, address: str = "127.0.0.1:8080") -> ApiServer:
    """Serve the API on ``address`` (``HOST:PORT``) from this process; returns once it listens."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"MANO_API_ADDR={address!r}: expected HOST:PORT")
    return ApiServer(rt, host, int(port)).start()
