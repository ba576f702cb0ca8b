"""The Ray cluster's address and token, checked before Ray is asked (:mod:`mano.cluster.connection` joins).

``ray.init`` reports an address it cannot use only as "Failed to connect", after retrying for
20 s or more; these checks answer at once and say why: an address that is not ``HOST:PORT``, a
head that does not accept a connection, a token that is missing or not the cluster's. Plain
Python (sockets and the environment, no Ray), tested in ``tests/unit/test_cluster_address.py``.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Mapping

from mano.errors import ClusterError, ClusterUnreachableError

#: How long the head's port may take to accept a TCP connection.
REACH_TIMEOUT_S = 3.0


# --- token authentication -------------------------------------------------------------------
def token_source(environ: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """Where Ray would read this process's token from, in Ray's order (None: no token).

    ``$RAY_AUTH_TOKEN``, else the file ``$RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``; a
    file counts only if it exists. Says where the token is, never the token itself."""
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN"):
        return "$RAY_AUTH_TOKEN"
    if env.get("RAY_AUTH_TOKEN_PATH"):
        path = Path(env["RAY_AUTH_TOKEN_PATH"]).expanduser()
        return str(path) if path.is_file() else None
    default = (home or Path.home()) / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def refusal(address: str) -> str:
    """Why a cluster refused this process's token authentication, and what to do about it."""
    mode = os.environ.get("RAY_AUTH_MODE", "")
    source = token_source()
    ask = "`ray get-auth-token` on the head prints its token"
    if mode.lower() == "token" and source is not None:
        return (f"the Ray cluster at {address} refused mano's token authentication: the token in {source} "
                f"is not the cluster's ({ask})")
    if mode and mode.lower() != "token":
        return (f"the Ray cluster at {address} refused mano's token authentication: it asks for a token and "
                f"RAY_AUTH_MODE={mode} sends none (unset it or set it to token; {ask})")
    return (f"the Ray cluster at {address} refused mano's token authentication: it asks for a token and mano "
            f"found none in $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token ({ask})")


# --- is the cluster there ---------------------------------------------------------------------
def host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (or ``ray://HOST:PORT``, ``[IPv6]:PORT``) split; None for Ray's own
    words (``auto``), which ``ray.init`` resolves itself."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep:
        if rest in ("auto", "local"):
            return None
        raise ClusterError(f"the Ray cluster address {address!r} is not HOST:PORT (the head's GCS port, "
                           "6379 unless `ray start --head --port` said otherwise)")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ClusterError(f"the Ray cluster address {address!r} is not HOST:PORT: {port!r} is no port") from None


def check_reachable(address: str, host: str, port: int, timeout_s: float = REACH_TIMEOUT_S) -> None:
    """The head's port accepts a TCP connection, or :class:`ClusterUnreachableError`."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return
    except socket.timeout:
        reason = f"no answer from {host}:{port} within {timeout_s:g} s"
    except socket.gaierror as exc:
        reason = f"{host!r} is not a known host ({exc.strerror or exc})"
    except OSError as exc:
        reason = f"{str(exc.strerror or exc).lower()} by {host}:{port}"
    raise ClusterUnreachableError(f"the Ray cluster at {address} is unreachable: {reason} (is its head running?)")
