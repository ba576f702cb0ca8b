"""The function lifecycle manager's core: the Functions port over VNF controllers, no Ray.

One method (deploy, start, stop, configure, remove, heal) runs over a batch of VNF instances.
Each VNF's call runs where :func:`mano.lifecycle.hosting.host_vnf_call` says: on the VNF's
own actor when one is up (``on_actors``, which the FLM actor supplies), else here on a
:class:`VnfController`, several at once (``threads``). Either way the call holds the VNF's
lease, so calls on one VNF run one after the other wherever they are hosted. A batch fails as
a whole, after all its calls have ended, with one error naming every failure, so the caller's
rollback knows all that happened.

In-process (``mano.testing``, the unit tests, the benchmark's baseline) there are no actors:
everything runs here, one call at a time unless ``threads`` says otherwise.
"""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

from mano.errors import ManoError, StepFailedError
from mano.lifecycle.hosting import Host, host_vnf_call
from mano.lifecycle.lease import InstanceLeases
from mano.lifecycle.ports import FunctionAction, FunctionDeployment, Vim
from mano.lifecycle.vnf import VnfController

Outcome = tuple[Any, "BaseException | None"]
# (method, items) -> one (value, error) per item: the calls made on the VNFs' own actors
OnActors = Callable[[str, Sequence[Any]], list[Outcome]]


class FunctionLifecycle:
    """The Functions port: each batch's VNF calls on their actors or here, in parallel."""

    def __init__(self, store: Any, infrastructure: Vim, leases: InstanceLeases, *,
                 wait_s: float = 30.0, threads: int = 1, has_actor: Callable[[str], bool] = lambda _id: False,
                 on_actors: OnActors | None = None,
                 prestarted: Callable[[Sequence[str]], None] = lambda _ids: None):
        """``has_actor(id)``: the VNF's activation is an actor that is up; ``on_actors``: call a
        batch on those actors; ``prestarted(ids)``: give new VNFs about to be deployed ready
        pre-started hosts (:mod:`mano.lifecycle.host_pool`), as many as there are; ``has_actor``
        is true for those from then on."""
        self.store = store
        self.infrastructure = infrastructure
        self.leases = leases
        self.wait_s = wait_s
        self._has_actor = has_actor
        self._on_actors = on_actors
        self._prestarted = prestarted
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vnf") if threads > 1 else None

    def vnf(self, vnf_instance_id: str) -> VnfController:
        return VnfController(vnf_instance_id, self.store, self.infrastructure, leases=self.leases, wait_s=self.wait_s)

    # --- the Functions port ------------------------------------------------------------
    def deploy(self, requests: Sequence[FunctionDeployment]) -> list[dict[str, Any]]:
        return self._batch("deploy", requests, lambda r: f"{r.vnf_id} ({r.vnf_instance_id})")

    def start(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("start", actions, _instance)

    def stop(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("stop", actions, _instance)

    def configure(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("configure", actions, _instance)

    def remove(self, actions: Sequence[FunctionAction]) -> None:
        self._batch("remove", actions, _instance)

    def heal(self, action: FunctionAction) -> dict[str, Any]:
        return self._batch("heal", [action], _instance, activate=True)[0]

    def status(self, vnf_instance_id: str) -> str:
        return self.vnf(vnf_instance_id).vim_status()

    def new_instance_ids(self, count: int) -> list[str]:
        return [str(uuid.uuid4()) for _ in range(count)]

    # --- one batch -------------------------------------------------------------------------
    def _batch(self, method: str, items: Sequence[Any], key: Callable[[Any], str], *,
               activate: bool = False) -> list[Any]:
        """Run ``method`` for every item; raise one error naming every failure.

        ``activate``: single-VNF work on a VNF's own state (heal) goes to its actor. Otherwise
        a VNF whose actor is up (a pre-started host given to it at its deploy, or an active
        one) is called there and the others run here, so lifecycle work never waits for a worker process to
        start: a burst of 50 instantiations with an actor start per VNF timed steps out, and
        scaling 200 services out by one VNF each queued 200 process starts.
        """
        remote = self._on_actors is not None
        if remote and method == "deploy":
            self._prestarted([item.vnf_instance_id for item in items])
        hosts = [host_vnf_call(has_actor=remote and not activate and self._has_actor(item.vnf_instance_id),
                               needs_actor=remote and activate) for item in items]
        on_actors = [i for i, host in enumerate(hosts) if host is Host.ACTOR]
        here = [i for i, host in enumerate(hosts) if host is Host.MANAGER]

        def one(item: Any) -> Any:
            return getattr(self.vnf(item.vnf_instance_id), method)(item)
        # Here-calls go to the pool first (they run while this thread waits on the actors), each
        # as its own task: a task that waited on others in the same pool could starve it.
        futures = {i: self._pool.submit(one, items[i]) for i in here} if self._pool else {}
        outcomes: list[Outcome] = [(None, None)] * len(items)
        if on_actors:
            for i, outcome in zip(on_actors, self._on_actors(method, [items[i] for i in on_actors])):
                outcomes[i] = outcome
        for i in here:
            future = futures.get(i)
            outcomes[i] = _outcome((lambda f=future: f.result(timeout=self.wait_s)) if future else
                                   (lambda item=items[i]: one(item)))
        raise_failures(method, len(items), [(key(item), error) for item, (_, error) in zip(items, outcomes)
                                            if error is not None])
        return [value for value, _ in outcomes]


def raise_failures(what: str, total: int, errors: Sequence[tuple[str, BaseException]]) -> None:
    """One StepFailedError for a batch, retryable only if every failure is."""
    if not errors:
        return
    failures = [f"{name}: {exc}" for name, exc in errors]
    retryable = all(isinstance(e, ManoError) and e.retryable for _, e in errors)
    raise StepFailedError(f"{what} failed for {len(failures)} of {total}: " + "; ".join(failures),
                          failures, retryable=retryable)


def _instance(action: FunctionAction) -> str:
    return action.vnf_instance_id


def _outcome(run: Callable[[], Any]) -> Outcome:
    try:
        return run(), None
    except ManoError as exc:
        return None, exc
