"""The specific manager registry: every decision about SMs, over the store and the runners.

This is the pure core of the SMR (no Ray, no Docker, no pika): the SMR actor
(``actors/smr.py``) and the in-process port (:mod:`mano.sm.local`) are thin shells around
:class:`RegistryCore`, which gets its runners injected.

Records are the desired state
    Every SM of a service is one :class:`~mano.records.SpecificManagerRecord` owned by the
    service (``owner_id``), whose ``status`` moves ONBOARDED -> INSTANTIATED -> UPDATED /
    TERMINATED / FAILED through :data:`SM_TRANSITIONS`. ``version`` is the SM's generation
    (``"1"``, +1 per update or restart) and part of its instance name, so the registry can tell
    the instance a record wants from a leaked one.

Calls never raise for what an SM does
    :meth:`RegistryCore.call` returns an :class:`~mano.lifecycle.sm_port.SmOutcome`: the answer, validated
    (:mod:`mano.sm.validation`), or the reason the default runs. A timeout stops the instance and
    marks the record FAILED (a hung SM would block its next calls); an exception raised by a hook
    or an invalid answer is noted on the record (``error``) and leaves the SM running.

Locks
    Changes to one service's SMs (onboard, update, terminate, the reconcile pass) hold that
    service's lock, so the reconcile pass never sees an update half done. Calls take no lock:
    a call racing an update reaches the old or the new instance, or reports it unavailable.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mano.records import SmStatus, SmType, SpecificManagerRecord, utcnow
from mano.sm.config import SmrConfig
from mano.sm.discovery import RunnerKind, SmSpec, discover, runner_kind
from mano.lifecycle.sm_port import DEFAULT_TIMEOUT_S, SmOutcome, SmUpdateError, UnknownSmError
from mano.sm.runner import Runner, SmCallTimeout, SmInstanceName, SmLaunch, SmStartError, SmUnavailable
from mano.sm.validation import InvalidAnswer, parse_request, validate_answer
from mano.states import ServiceState, transition
from ssm.runtime import PYTHON_SCHEME

__all__ = ["LIVE", "SM_TRANSITIONS", "RegistryCore", "RegistryPort"]

log = logging.getLogger(__name__)

SM_TRANSITIONS: Mapping[SmStatus, frozenset[SmStatus]] = {
    SmStatus.ONBOARDED: frozenset({SmStatus.INSTANTIATED, SmStatus.UPDATED, SmStatus.FAILED,
                                   SmStatus.TERMINATED}),
    SmStatus.INSTANTIATED: frozenset({SmStatus.UPDATED, SmStatus.FAILED, SmStatus.TERMINATED}),
    SmStatus.UPDATED: frozenset({SmStatus.FAILED, SmStatus.TERMINATED}),
    # a failed SM is restarted by the next on-boarding, or replaced by an update
    SmStatus.FAILED: frozenset({SmStatus.ONBOARDED, SmStatus.UPDATED, SmStatus.TERMINATED}),
    # the same service id on-boarded again (an instantiation retried after its rollback)
    SmStatus.TERMINATED: frozenset({SmStatus.ONBOARDED}),
}

LIVE = frozenset({SmStatus.INSTANTIATED, SmStatus.UPDATED})
_NOT_FINAL = [SmStatus.ONBOARDED, SmStatus.INSTANTIATED, SmStatus.UPDATED]
_DEAD_SERVICE = frozenset({ServiceState.TERMINATED, ServiceState.FAILED})
_ENVELOPE = frozenset({"sm_id", "sm_version", "ssm_type", "fsm_type", "error", "result"})
_SM_ERROR_PREFIXES = ("raised ", "invalid answer", "bad request")


def _with_status(record: SpecificManagerRecord, status: SmStatus, **changes: Any) -> SpecificManagerRecord:
    target = transition(SM_TRANSITIONS, record.status, status, what=f"SM {record.sm_id} of {record.owner_id}")
    return record.evolve(status=target, **changes)


def _next_version(record: SpecificManagerRecord) -> str:
    return str(int(record.version) + 1) if record.version.isdigit() else "1"


class RegistryCore:
    """On-boards, calls, updates and terminates the SMs of services (see the module doc).

    Args:
        store: a :class:`~mano.store.client.Store` (``specific_managers`` and ``services``).
        runners: the runner of each image kind; a missing kind fails its SMs at start.
        config: timeouts, grace periods, allowed modules.
    """

    def __init__(self, store: Any, runners: Mapping[RunnerKind, Runner], config: SmrConfig | None = None):
        self._store = store
        self._repo = store.specific_managers
        self._runners = dict(runners)
        self.config = config or SmrConfig()
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = defaultdict(threading.RLock)

    # --- port operations ---------------------------------------------------------------
    def onboard(self, service_id: str, nsd: Mapping[str, Any],
                vnfds: Mapping[str, Mapping[str, Any]]) -> list[dict]:
        """On-board and instantiate the service's SMs; return their records (see the port)."""
        discovery = discover(service_id, nsd, vnfds)
        for warning in discovery.warnings:
            log.warning("service %s: %s", service_id, warning)
        with self._locked(service_id):
            records = [self._registered(service_id, spec) for spec in discovery.specs]
            pending = [r for r in records if r.status is SmStatus.ONBOARDED]
            if pending:
                workers = max(1, min(self.config.parallel_starts, len(pending)))
                with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sm-start") as pool:
                    results = pool.map(self._instantiate, pending)
                    started = dict(zip([r.id for r in pending], results, strict=True))
                records = [started.get(r.id, r) for r in records]
        return [r.model_dump(mode="json") for r in records]

    def terminate(self, service_id: str) -> None:
        """Stop every SM of the service and mark it TERMINATED; idempotent."""
        with self._locked(service_id):
            for record in self._repo.for_owner(service_id):
                if record.status is SmStatus.TERMINATED:
                    continue
                error = self._stop(SmLaunch.of(record))
                self._repo.mutate(record.id, lambda r, e=error: _with_status(
                    r, SmStatus.TERMINATED, error=e if e else r.error))
                log.info("SM %s of %s terminated", record.sm_id, service_id)
            for runner in self._runners.values():
                for instance in self._running(runner):
                    if instance.service_id == service_id:
                        self._stop_instance(runner, instance)

    def call(self, service_id: str, sm_type: SmType, kind: str, payload: Mapping[str, Any], *,
             vnf_id: str | None = None, timeout: float = 5.0) -> SmOutcome:
        """Ask the SM registered for ``kind``; never raises for what the SM does (see the port).

        Raises:
            SmRequestError: unknown kind or a payload that does not fit its request model.
        """
        request = parse_request(sm_type, kind, payload)
        record = self._find(service_id, sm_type, kind, vnf_id)
        if record is None:
            return SmOutcome.absent()
        if record.status not in LIVE:
            return SmOutcome(used=False, sm_id=record.sm_id,
                             reason=f"absent ({record.sm_id} is {record.status.value}"
                                    f"{': ' + record.error if record.error else ''})")
        launch = SmLaunch.of(record)
        content = request.model_dump(mode="json")
        type_key = "ssm_type" if sm_type is SmType.SSM else "fsm_type"
        body = {**content, "content": content, type_key: kind, "sm_id": record.sm_id,
                "sm_version": record.version}
        try:
            reply = self._runner(launch.image).call(launch, body, timeout=timeout)
        except SmCallTimeout:
            self._fail(record, f"{kind}: no answer within {timeout:g} s; stopped")
            return SmOutcome(used=False, sm_id=record.sm_id, reason=f"timeout after {timeout:g} s")
        except (SmUnavailable, SmStartError) as exc:
            self._fail(record, f"{kind}: {exc}")
            return SmOutcome(used=False, sm_id=record.sm_id, reason=f"unavailable: {exc}")
        error = reply.get("error")
        if error:
            reason = str(error) if str(error).startswith(_SM_ERROR_PREFIXES) else f"answered error: {error}"
            self._note(record, f"{kind}: {reason}")
            return SmOutcome(used=False, sm_id=record.sm_id, reason=reason)
        if "result" in reply:
            answer = reply["result"]
        else:  # a SONATA SM that answers with the fields at the top level
            answer = {k: v for k, v in reply.items() if k not in _ENVELOPE}
        try:
            result = validate_answer(sm_type, kind, request, answer)
        except InvalidAnswer as exc:
            self._note(record, f"{kind}: invalid answer: {exc}")
            return SmOutcome(used=False, sm_id=record.sm_id, reason=f"invalid answer: {exc}")
        return SmOutcome(used=True, result=result, sm_id=record.sm_id)

    def update(self, service_id: str, sm_id: str, image: str) -> dict:
        """Start ``image`` as the next generation of the SM, then stop the old one.

        Raises:
            UnknownSmError: the service has no such SM (or it was terminated).
            SmUpdateError: the new version did not start; the old one keeps running.
        """
        with self._locked(service_id):
            record = self.record(service_id, sm_id)
            if record.status is SmStatus.TERMINATED:
                raise UnknownSmError(f"SM {record.sm_id} of service {service_id} is terminated")
            new = SmLaunch.of(record, image=image, version=_next_version(record))
            try:
                self._check_allowed(new)
                self._runner(image).start(new, timeout=self._start_timeout(new))
            except SmStartError as exc:
                self._note(record, f"update to {image} failed: {exc}")
                raise SmUpdateError(f"SM {record.sm_id} of {service_id}: {image} did not start: {exc}; "
                                    f"version {record.version} ({record.image}) keeps running") from None
            updated = self._repo.mutate(record.id, lambda r: _with_status(
                r, SmStatus.UPDATED, image=image, version=new.version, error=None))
            old_error = self._stop(SmLaunch.of(record))
            if old_error:
                log.warning("SM %s of %s: old version not stopped: %s", record.sm_id, service_id, old_error)
            log.info("SM %s of %s updated to %s (v%s)", record.sm_id, service_id, image, new.version)
            return updated.model_dump(mode="json")

    # --- queries -------------------------------------------------------------------------
    def records(self, service_id: str) -> list[dict]:
        """The SM records of a service, as dicts."""
        return [r.model_dump(mode="json") for r in self._repo.for_owner(service_id)]

    def record(self, service_id: str, sm_id: str) -> SpecificManagerRecord:
        """The SM ``sm_id`` (registry id, or descriptor id when that is unambiguous).

        Raises:
            UnknownSmError: none, or the descriptor id names several FSMs.
        """
        record = self._repo.by_sm_id(service_id, sm_id)
        if record is not None:
            return record
        matches = [r for r in self._repo.for_owner(service_id) if r.options.get("descriptor_id") == sm_id]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UnknownSmError(f"{sm_id!r} names {len(matches)} FSMs of service {service_id}: "
                                 f"{', '.join(r.sm_id for r in matches)}")
        raise UnknownSmError(f"service {service_id} has no SM {sm_id!r}")

    # --- clean-up ----------------------------------------------------------------------
    def reconcile(self) -> dict[str, list[str]]:
        """One clean-up pass; returns what it did.

        * SMs of services that are TERMINATED or FAILED, or that have no record (after
          ``orphan_grace_s``), are terminated;
        * INSTANTIATED/UPDATED SMs whose instance is gone (crashed, killed) become FAILED;
        * running instances no record wants (old generations, terminated SMs) are stopped, if
          they belong to a service this registry knows: another registry on the same Ray
          cluster or Docker host (another store) keeps its own SMs.
        """
        done: dict[str, list[str]] = {"terminated_services": [], "failed": [], "stopped": []}
        by_service: dict[str, list[SpecificManagerRecord]] = defaultdict(list)
        for record in self._repo.find({"status": {"$in": _NOT_FINAL}}):
            by_service[record.owner_id].append(record)
        for service_id, records in by_service.items():
            if self._service_gone(service_id, records):
                self.terminate(service_id)
                done["terminated_services"].append(service_id)
                continue
            with self._locked(service_id):
                for record in self._repo.for_owner(service_id):
                    if record.status in LIVE and not self._alive(SmLaunch.of(record)):
                        self._fail(record, "not running (crashed or killed)")
                        done["failed"].append(f"{service_id}/{record.sm_id}")
        for runner in self._runners.values():
            for instance in self._running(runner):
                with self._locked(instance.service_id):
                    record = self._repo.by_sm_id(instance.service_id, instance.sm_id)
                    if record is None and not self._repo.for_owner(instance.service_id):
                        continue  # a service this registry never saw: another registry's SM
                    wanted = (record is not None and record.status in _NOT_FINAL
                              and record.version == instance.version)
                    if not wanted:
                        self._stop_instance(runner, instance)
                        done["stopped"].append(instance.name)
        return done

    # --- helpers -------------------------------------------------------------------------
    @contextmanager
    def _locked(self, service_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[service_id]
        with lock:
            yield

    def _registered(self, service_id: str, spec: SmSpec) -> SpecificManagerRecord:
        """The record of ``spec``: new, kept (running), or reset to ONBOARDED for a (re)start."""
        record = self._repo.by_sm_id(service_id, spec.sm_id)
        if record is None:
            return self._repo.insert(SpecificManagerRecord(
                id=_new_id(), sm_id=spec.sm_id, sm_type=spec.sm_type, owner_id=service_id, image=spec.image,
                version="1", sm_kind=spec.kinds[0] if spec.kinds else None, options=spec.record_options()))
        if record.status in LIVE and self._alive(SmLaunch.of(record)):
            return record
        self._stop(SmLaunch.of(record))  # whatever is left of the previous generation
        image = spec.image if record.status is SmStatus.TERMINATED else record.image
        if record.status is SmStatus.ONBOARDED:  # an interrupted start: same state, new generation
            return self._repo.mutate(record.id, lambda r: r.evolve(version=_next_version(r), error=None))
        if record.status in LIVE:  # it died: record that first, then restart
            record = self._fail(record, "not running (crashed or killed)")
        return self._repo.mutate(record.id, lambda r: _with_status(
            r, SmStatus.ONBOARDED, image=image, version=_next_version(r), error=None,
            options={**spec.record_options()}))

    def _instantiate(self, record: SpecificManagerRecord) -> SpecificManagerRecord:
        launch = SmLaunch.of(record)
        try:
            self._check_allowed(launch)
            self._runner(launch.image).start(launch, timeout=self._start_timeout(launch))
        except SmStartError as exc:
            log.warning("SM %s of %s failed to start: %s", record.sm_id, record.owner_id, exc)
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a runner bug must not leave the record ONBOARDED
            log.exception("SM %s of %s: runner error", record.sm_id, record.owner_id)
            self._stop(launch)
            error = f"runner error: {type(exc).__name__}: {exc}"
        else:
            error = None
        if error is not None:
            return self._repo.mutate(record.id, lambda r: _with_status(r, SmStatus.FAILED, error=error))
        log.info("SM %s of %s instantiated (%s)", record.sm_id, record.owner_id, launch.image)
        return self._repo.mutate(record.id, lambda r: _with_status(r, SmStatus.INSTANTIATED, error=None))

    def _check_allowed(self, launch: SmLaunch) -> None:
        allowed = self.config.python_modules
        if allowed is None or runner_kind(launch.image) is not RunnerKind.PYTHON:
            return
        module = launch.image[len(PYTHON_SCHEME):].partition(":")[0]
        if not any(module == p or module.startswith(p + ".") for p in allowed):
            raise SmStartError(f"module {module!r} is not allowed (allowed: {', '.join(allowed)})")

    def _start_timeout(self, launch: SmLaunch) -> float:
        if runner_kind(launch.image) is RunnerKind.CONTAINER:
            return self.config.container.start_timeout_s
        return self.config.start_timeout_s

    def _runner(self, image: str) -> Runner:
        kind = runner_kind(image)
        runner = self._runners.get(kind)
        if runner is None:
            raise SmStartError(f"no runner for {kind.value} SMs is configured (image {image!r})")
        return runner

    def _find(self, service_id: str, sm_type: SmType, kind: str,
              vnf_id: str | None) -> SpecificManagerRecord | None:
        candidates = [r for r in self._repo.for_owner(service_id, sm_type)
                      if kind in (r.options.get("types") or ())
                      and (sm_type is SmType.SSM or r.options.get("vnf_id") == vnf_id)]
        return next((r for r in candidates if r.status in LIVE), candidates[0] if candidates else None)

    def _alive(self, launch: SmLaunch) -> bool:
        try:
            return self._runner(launch.image).alive(launch)
        except SmStartError:
            return False

    def _stop(self, launch: SmLaunch) -> str | None:
        """Stop an instance; the error text if that failed (the reconcile pass retries)."""
        try:
            self._runner(launch.image).stop(launch)
        except SmStartError:
            return None  # no runner: nothing can be running
        except Exception as exc:  # noqa: BLE001
            log.warning("stopping %s failed: %s", launch.name, exc)
            return f"stop failed: {type(exc).__name__}: {exc}"
        return None

    def _running(self, runner: Runner) -> list[SmInstanceName]:
        try:
            return runner.running()
        except Exception as exc:  # noqa: BLE001 - e.g. dockerd down: nothing to clean there now
            log.warning("listing running SMs failed: %s", exc)
            return []

    def _stop_instance(self, runner: Runner, instance: SmInstanceName) -> None:
        try:
            runner.stop_instance(instance)
            log.info("stopped SM instance %s (no record wants it)", instance.name)
        except Exception as exc:  # noqa: BLE001
            log.warning("stopping %s failed: %s", instance.name, exc)

    def _fail(self, record: SpecificManagerRecord, error: str) -> SpecificManagerRecord:
        """Stop the instance and mark the record FAILED (unless a newer generation took over)."""
        self._stop(SmLaunch.of(record))

        def change(current: SpecificManagerRecord) -> SpecificManagerRecord:
            if current.version != record.version or current.status not in LIVE | {SmStatus.ONBOARDED}:
                return current
            return _with_status(current, SmStatus.FAILED, error=error)
        failed = self._repo.mutate(record.id, change)
        log.warning("SM %s of %s failed: %s", record.sm_id, record.owner_id, error)
        return failed

    def _note(self, record: SpecificManagerRecord, error: str) -> None:
        """Keep the last error on the record (the SM keeps running)."""
        self._repo.mutate(record.id, lambda r: r if r.version != record.version else r.evolve(error=error))

    def _service_gone(self, service_id: str, records: list[SpecificManagerRecord]) -> bool:
        service = self._store.services.find_one(service_id)
        if service is not None:
            return service.state in _DEAD_SERVICE
        youngest = max(r.created_at for r in records)
        return utcnow() - youngest > dt.timedelta(seconds=self.config.orphan_grace_s)


def _new_id() -> str:
    return str(uuid.uuid4())


class RegistryPort:
    """The :class:`~mano.lifecycle.sm_port.SpecificManagers` port over ``self.core`` (a
    :class:`RegistryCore`): the methods of the SMR actor and of the in-process registry
    (``mano.sm.local.LocalSpecificManagers``), which differ only in their runners."""

    core: RegistryCore

    def onboard(self, service_id: str, nsd: dict, vnfds: dict[str, dict]) -> list[dict]:
        return self.core.onboard(service_id, nsd, vnfds)

    def terminate(self, service_id: str) -> None:
        self.core.terminate(service_id)

    def ssm(self, service_id: str, kind: str, payload: dict, timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        return self.core.call(service_id, SmType.SSM, kind, payload, timeout=timeout)

    def fsm(self, service_id: str, vnf_id: str, kind: str, payload: dict,
            timeout: float = DEFAULT_TIMEOUT_S) -> SmOutcome:
        return self.core.call(service_id, SmType.FSM, kind, payload, vnf_id=vnf_id, timeout=timeout)

    def update(self, service_id: str, sm_id: str, image: str) -> dict:
        return self.core.update(service_id, sm_id, image)

    def records(self, service_id: str) -> list[dict]:
        """The service's SM records (not part of the port; for tests and tools)."""
        return self.core.records(service_id)

    def reconcile(self) -> dict[str, list[str]]:
        """One clean-up pass (see :meth:`RegistryCore.reconcile`)."""
        return self.core.reconcile()
