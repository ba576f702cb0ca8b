"""Every Ray call goes through here (STYLE practice 6 and 13): no other module calls
``.remote(``, ``ray.get`` or ``ray.wait`` (``tests/unit/test_layers.py`` checks it).

* :func:`call` — a method of a named actor, with a timeout, retried while it restarts;
* :func:`ask` — a method of an actor handle in hand, once, with a timeout;
* :func:`tell` — a method without waiting for it (its ref, for a callback or :func:`wait`);
* :func:`create` — start an actor (on the nodes :func:`ray_options` allows); :func:`submit` — run a task; :func:`get`, :func:`gather`,
  :func:`wait` — results; :func:`cancel` — kill a task; :func:`interrupt` — stop a task and keep
  its worker; :func:`lookup` — a named actor, or None.

``call`` resolves a remote method with a timeout and retries while the target actor is
restarting or was passivated (``get_handle`` re-creates it), and translates Ray's exceptions
into mano's: a dead or unreachable actor becomes a retryable :class:`ActorUnavailable`, a
timeout an :class:`ActorTimeout`; exceptions raised by the actor's own code come back as they
were raised (Ray re-raises the original type), so ``ManoError`` subclasses keep their meaning.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

import ray
from ray import exceptions as rex

from mano.errors import ManoError
from mano.lifecycle.nodes import Where

log = logging.getLogger(__name__)

_UNAVAILABLE = (rex.RayActorError, rex.ActorUnavailableError, rex.ActorDiedError)

#: The resource Ray gives its head node only (``ray._common.constants.HEAD_NODE_RESOURCE_NAME``).
HEAD_NODE_RESOURCE = "node:__internal_head__"
#: How much of it a control-plane actor asks for: a sliver, so any number of them fit (the
#: head has 1.0), as Ray's own head-only actors do.
HEAD_NODE_SHARE = 0.001


class ActorUnavailable(ManoError):
    """The actor is dead, restarting or unreachable (try again)."""

    retryable = True


class ActorTimeout(ManoError):
    """The actor did not answer in time."""

    retryable = True


def unwrap(exc: BaseException) -> BaseException:
    """The user exception behind a RayTaskError, when Ray could rebuild it."""
    if isinstance(exc, rex.RayTaskError):
        cause = exc.as_instanceof_cause() if hasattr(exc, "as_instanceof_cause") else exc
        return getattr(exc, "cause", None) or cause
    return exc


def get(refs: Any, *, timeout: float | None, what: str) -> Any:
    """``ray.get`` with mano's exceptions."""
    try:
        return ray.get(refs, timeout=timeout)
    except rex.GetTimeoutError:
        raise ActorTimeout(f"{what}: no answer within {timeout:g} s") from None
    except _UNAVAILABLE as exc:
        raise ActorUnavailable(f"{what}: actor unavailable ({type(exc).__name__})") from None
    except rex.RayTaskError as exc:
        cause = unwrap(exc)
        if isinstance(cause, ManoError):
            raise cause from None
        raise ManoError(f"{what}: {type(cause).__name__}: {cause}") from None


def call(get_handle: Callable[[], Any], method: str, *args: Any, timeout: float | None = 60.0,
         retries: int = 4, backoff_s: float = 0.1, what: str | None = None, **kwargs: Any) -> Any:
    """Call ``method`` on the actor ``get_handle()`` returns, retrying while it is unavailable."""
    label = what or method
    for attempt in range(retries + 1):
        try:
            handle = get_handle()
            return get(getattr(handle, method).remote(*args, **kwargs), timeout=timeout, what=label)
        except ActorUnavailable:
            if attempt == retries:
                raise
            log.info("%s: actor unavailable, retry %d", label, attempt + 1)
            time.sleep(backoff_s * 2 ** attempt)
    raise AssertionError("unreachable")


def ask(handle: Any, method: str, *args: Any, timeout: float | None, what: str, **kwargs: Any) -> Any:
    """Call ``method`` on an actor handle once and wait for the answer (mano's exceptions)."""
    return get(getattr(handle, method).remote(*args, **kwargs), timeout=timeout, what=what)


def tell(handle: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``method`` on an actor handle without waiting: the answer's ref (fire and forget)."""
    return getattr(handle, method).remote(*args, **kwargs)


def ray_options(where: Where | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``options`` (Ray's ``.options(...)`` keywords) with ``where`` (:mod:`mano.lifecycle.nodes`)
    applied; a copy."""
    out = dict(options or {})
    if where is None or where.kind == "any":
        return out
    if where.kind == "head":
        resources = dict(out.get("resources") or {})
        resources[HEAD_NODE_RESOURCE] = HEAD_NODE_SHARE
        out["resources"] = resources
    elif where.kind == "spread":
        out["scheduling_strategy"] = "SPREAD"
    else:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        out["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=where.node_id, soft=False)
    return out


def create(actor_class: Any, *args: Any, where: Where | None = None, **options: Any) -> Any:
    """Start an actor of ``actor_class`` (a ``@ray.remote`` class) with Ray ``options``, on the
    nodes ``where`` allows (:mod:`mano.lifecycle.nodes`; None: Ray's default): its handle."""
    return actor_class.options(**ray_options(where, options)).remote(*args)


def submit(task: Any, *args: Any, where: Where | None = None) -> Any:
    """Run a ``@ray.remote`` function, on the nodes ``where`` allows: its result's ref."""
    if where is None:
        return task.remote(*args)
    return task.options(**ray_options(where)).remote(*args)


def wait(refs: Sequence[Any], *, timeout: float | None, num_returns: int | None = None) -> tuple[list, list]:
    """``ray.wait``: (the refs done within ``timeout``, the others); all of them by default."""
    if not refs:
        return [], []
    return ray.wait(list(refs), num_returns=len(refs) if num_returns is None else num_returns, timeout=timeout)


def cancel(ref: Any) -> None:
    """Stop the task behind ``ref`` now: a queued one never starts, a running one's worker
    process is killed (``force=True``: the only way to stop code that does not yield, such as
    HiGHS inside one C call), and it is not retried. A task that has ended is left alone."""
    ray.cancel(ref, force=True, recursive=True)


def interrupt(ref: Any) -> None:
    """Stop the task behind ``ref`` (a streaming generator's too) without killing its worker:
    Ray raises ``TaskCancelledError`` in the task at its next Python bytecode, and the worker
    process serves the next task (a new one costs a second or more to start). For pure-Python
    work only; code inside one C call is stopped by :func:`cancel`. A task that has ended is
    left alone."""
    ray.cancel(ref, force=False)


def lookup(name: str) -> Any | None:
    """The mano actor called ``name``, or None when there is none."""
    from actors.naming import NAMESPACE
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def gather(refs: Sequence[Any], *, timeout: float | None, what: str) -> list[tuple[Any, BaseException | None]]:
    """Wait for every ref; return ``(value, None)`` or ``(None, error)`` for each, in order."""
    out: list[tuple[Any, BaseException | None]] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    for ref in refs:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            out.append((get(ref, timeout=remaining, what=what), None))
        except ManoError as exc:
            out.append((None, exc))
    return out


def named(name: str) -> Callable[[], Any]:
    """A handle getter for the mano actor called ``name`` (looked up on each call, so a
    restarted actor is found again)."""
    from actors.naming import NAMESPACE
    return lambda: ray.get_actor(name, namespace=NAMESPACE)


def actor_names(namespace: str) -> list[str]:
    """The names of the live named actors in ``namespace``, on the whole cluster."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a.get("namespace") == namespace]


def kill(handle: Any) -> None:
    """Stop an actor for good (Ray does not restart it); one that is gone already is left alone."""
    try:
        ray.kill(handle, no_restart=True)
    except Exception:  # noqa: BLE001 - already gone
        pass


def actor_exists(name: str, namespace: str) -> bool:
    try:
        ray.get_actor(name, namespace=namespace)
        return True
    except ValueError:
        return False


def restarted() -> bool:
    """True in an actor that Ray restarted after its process died (False on its first start)."""
    return bool(ray.get_runtime_context().was_current_actor_reconstructed)


def current_actor_name() -> str:
    """The calling actor's name (empty outside a named actor)."""
    return ray.get_runtime_context().get_actor_name() or ""


def passivate_self() -> None:
    """Kill the calling actor without restart (idle passivation): its name is free for the next
    activation, which re-creates it from its records."""
    ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
