"""The Ray this process runs on: the cluster it was told to join, or a Ray of its own.

mano never joins a cluster it was not told about. Without an address (``MANO_RAY_ADDRESS``,
``mano up --address``) it starts its own local Ray, ``ray.init(address="local")``. A bare
``ray.init()`` would join the cluster named by ``RAY_ADDRESS``, or the last one ``ray start``
recorded in Ray's current-cluster file (``/tmp/ray/ray_current_cluster``); ``"local"`` is the
one address with which Ray 2.60 reads neither.

With an address, this process joins that cluster or fails with a :class:`ClusterError` that
names the address and what went wrong. Joining checks the cluster before ``ray.init`` does,
because ``ray.init`` only says "Failed to connect to Ray cluster at ...", and only after
retrying for 20 s against a cluster that refuses its token, and for minutes against a closed
port. The check has two parts:

* the head's port must accept a TCP connection within
  :data:`mano.cluster.address.REACH_TIMEOUT_S` (:mod:`mano.cluster.address`, which also reads the
  address and finds the token, before anything asks Ray);
* the head's GCS must give its cluster id to Ray's own GCS client, which sends the same token
  ``ray.init`` would send. A token-auth cluster refuses a missing or wrong token at once.

Ray's token authentication (2.59 on): a client sends a token only in ``RAY_AUTH_MODE=token``.
Ray turns that mode on by itself for a cluster it found without an address, but never for an
address it was given. So when mano is given an address, ``RAY_AUTH_MODE`` is unset and a token
is available (``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH``, or ``~/.ray/auth_token``),
mano turns token mode on the way Ray does for a cluster it finds. A cluster without token auth
accepts such a client too. An explicit ``RAY_AUTH_MODE`` is left as it is.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
from typing import Any

import ray
from ray import exceptions as rex

from mano.errors import ClusterAuthError, ClusterUnreachableError
from mano.cluster.address import check_reachable, host_port, refusal, token_source
from mano.settings import Settings

log = logging.getLogger(__name__)

#: How long its GCS may take to answer once the port is open (it answers in milliseconds; a
#: port that is open but is no Ray GCS makes Ray's client wait about 40 s).
GCS_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True)
class Connection:
    """This process's link to Ray, when mano made it."""

    address: str | None  # the cluster it joined; None: it started a Ray of its own
    dashboard_url: str | None

    @property
    def started_here(self) -> bool:
        return self.address is None


_connection: Connection | None = None


def connect(settings: Settings, namespace: str) -> None:
    """Join ``settings.ray_address`` (or fail), or start a Ray of this process's own; this
    process's actors and lookups are in ``namespace``.

    Nothing happens if this process is connected already (by mano or by its caller)."""
    global _connection
    if ray.is_initialized():
        return
    # The Ray processes inherit this process's environment; keep their chatter out of the user's terminal.
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    kwargs: dict[str, Any] = {"namespace": namespace, "logging_level": logging.ERROR,
                              "log_to_driver": False, "configure_logging": True}
    address = settings.ray_address if settings.ray_address not in (None, "", "local") else None
    if address is not None:
        context = join(address, **kwargs)
    else:
        context = ray.init(address="local", include_dashboard=settings.dashboard, dashboard_host="127.0.0.1",
                           **kwargs)
    _connection = Connection(address, context.dashboard_url or None)


def join(address: str, **init_kwargs: Any) -> Any:
    """``ray.init(address=address)`` after checking that the cluster is there and admits this
    process; the Ray context, or a :class:`ClusterError` naming the address and the reason."""
    use_token_if_available()
    where = host_port(address)
    if where is not None:
        check_reachable(address, *where)
        if "://" not in address:  # a Ray Client address (ray://) has no GCS behind its port
            check_admitted(address)
    try:
        return ray.init(address=address, **init_kwargs)
    except rex.AuthenticationError:
        raise ClusterAuthError(refusal(address)) from None
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterUnreachableError(f"the Ray cluster at {address} is unreachable: {exc}") from None


def started_here() -> bool:
    """Whether this process started the Ray it runs on (the embedded runtime): it owns that
    Ray and the control plane on it. False on a cluster it joined, or if mano did not connect."""
    return _connection is not None and _connection.started_here


def dashboard_url() -> str | None:
    """The dashboard of the Ray this process started or joined (None: no dashboard, or no Ray yet)."""
    return _connection.dashboard_url if _connection is not None else None


def disconnect() -> None:
    """Leave Ray if mano connected this process. A Ray of its own stops with it; a joined
    cluster, and every actor on it, keeps running."""
    global _connection
    if _connection is None:
        return
    _connection = None
    ray.shutdown()


# --- token authentication -------------------------------------------------------------------
def use_token_if_available() -> bool:
    """Turn Ray's token mode on for this process (and the processes it starts) when
    ``RAY_AUTH_MODE`` is unset and a token is available; whether token mode is on."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None:
        return mode.lower() == "token"
    if token_source() is None:
        return False
    os.environ["RAY_AUTH_MODE"] = "token"
    # Ray reads its configuration once, when it is imported: have it read the mode again.
    from ray._raylet import Config
    Config.initialize("")
    return True


# --- is the cluster there ---------------------------------------------------------------------
def check_admitted(address: str, timeout_s: float = GCS_TIMEOUT_S) -> None:
    """The cluster's GCS gives its id to this process's token, or a :class:`ClusterError`.

    Asked through Ray's own GCS client, in a thread of its own so that a port that is open but
    is no GCS costs ``timeout_s``, not Ray's 40 s."""
    from ray._raylet import GcsClient
    outcome: dict[str, BaseException | None] = {}

    def ask() -> None:
        try:
            GcsClient(address=address, cluster_id=None).cluster_id  # noqa: B018 - the call is the check
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    probe = threading.Thread(target=ask, name="mano-gcs-probe", daemon=True)
    probe.start()
    probe.join(timeout_s)
    if "error" not in outcome:
        raise ClusterUnreachableError(f"the Ray cluster at {address} is unreachable: its port is open but no Ray "
                                      f"GCS answered there within {timeout_s:g} s (is it the head's GCS port?)")
    error = outcome["error"]
    if error is None:
        return
    if isinstance(error, rex.AuthenticationError):
        raise ClusterAuthError(refusal(address))
    raise ClusterUnreachableError(f"the Ray cluster at {address} is unreachable: {type(error).__name__}: {error}")
