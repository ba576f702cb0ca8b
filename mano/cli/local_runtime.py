"""The runtime the CLI talks to: a background one from ``mano up``, or one for this command.

``mano up`` starts ``mano.cli.daemon`` in the background: a process that owns the runtime's
control plane (on an embedded Ray, or on the Ray cluster of ``mano up --address`` /
``MANO_RAY_ADDRESS``) and the embedded store, and records how to reach them in
``MANO_HOME/runtime.json``; later commands find it there and attach; ``mano down`` stops it.
A ``runtime.json`` is forgotten only when the runtime is gone: its daemon is dead and its Ray
does not answer. A runtime whose actors are restarting is waited for, not replaced.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from mano.errors import ManoError
from mano.settings import Settings


def _info_file(settings: Settings) -> Path:
    return settings.home / "runtime.json"


def read_info(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(_info_file(settings).read_text())
    except (OSError, ValueError):
        return None


def _error_file(settings: Settings) -> Path:
    return settings.home / "runtime.error"


def up(settings: Settings, *, gateway: bool = False, api: bool = False) -> dict[str, Any]:
    """Start the background runtime (``mano.cli.daemon``) unless one is up; return its info.

    With ``settings.ray_address`` the daemon joins that cluster or fails: its reason (the
    address unreachable, the token refused) is this function's ManoError, and nothing is left
    running."""
    import time
    info = read_info(settings)
    if info is not None and _alive(info.get("pid")):
        if settings.ray_address and info.get("attached_to") != settings.ray_address:
            raise ManoError(f"a runtime is up already, on Ray at {info.get('ray_address')}; "
                            "`mano down` stops it first")
        return info
    settings.home.mkdir(parents=True, exist_ok=True)
    _info_file(settings).unlink(missing_ok=True)
    _error_file(settings).unlink(missing_ok=True)
    env = dict(os.environ)
    if settings.ray_address:
        env["MANO_RAY_ADDRESS"] = settings.ray_address
    log = open(settings.home / "runtime.log", "ab")
    flags = [*(["--gateway"] if gateway else []), *(["--api"] if api else [])]
    process = subprocess.Popen([sys.executable, "-m", "mano.cli.daemon", *flags],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        info = read_info(settings)
        if info is not None:
            return info
        if process.poll() is not None:
            try:
                reason = _error_file(settings).read_text().strip()
                _error_file(settings).unlink()
            except OSError:
                reason = ""
            raise ManoError(f"the runtime did not start: {reason}" if reason else
                            f"the runtime did not start; see {settings.home / 'runtime.log'}")
        time.sleep(0.1)
    process.terminate()
    raise ManoError(f"the runtime did not start within 180 s; see {settings.home / 'runtime.log'}")


@dataclasses.dataclass(frozen=True)
class Dashboard:
    """Where the Ray dashboard is and, for a person, how to get past its login."""

    url: str
    auth: str
    token_file: Path | None = None  # the file holding the token, when a file is where Ray reads it


def dashboard(url: str | None = None, *, environ: Mapping[str, str] | None = None,
              home: Path | None = None) -> Dashboard | None:
    """The Ray dashboard's URL and how to authenticate; None without a dashboard.

    ``url`` defaults to the dashboard of the Ray this process started or joined. Ray (2.59 on)
    turns token auth on for a new local cluster unless ``RAY_AUTH_MODE`` says otherwise, and
    records the mode in this process's environment. The dashboard then shows "Authentication
    Token Required" and asks for the token once (``POST /api/authenticate`` sets a cookie); no
    URL logs in by itself. Scripts send ``Authorization: Bearer <token>``. Ray reads the token
    from ``RAY_AUTH_TOKEN``, else the file ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``.
    The hint says where it is, never the token itself.
    """
    if url is None:
        from mano.cluster import connection as cluster_connection
        url = cluster_connection.dashboard_url()
    if not url:
        return None
    if "://" not in url:
        url = f"http://{url}"
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_MODE", "").lower() != "token":
        return Dashboard(url, "no login: Ray token auth is off")
    if env.get("RAY_AUTH_TOKEN"):
        return Dashboard(url, "log in with the token in $RAY_AUTH_TOKEN")
    token_file = Path(env["RAY_AUTH_TOKEN_PATH"]) if env.get("RAY_AUTH_TOKEN_PATH") else \
        (home or Path.home()) / ".ray" / "auth_token"
    return Dashboard(url, f"log in with the token in {token_file}; `ray get-auth-token` prints it", token_file)


def dashboard_info(access: Dashboard | None) -> dict[str, Any] | None:
    """``access`` for ``runtime.json`` (the daemon writes it, ``mano up`` prints it)."""
    if access is None:
        return None
    return {"url": access.url, "auth": access.auth,
            "token_file": str(access.token_file) if access.token_file else None}


def dashboard_from_info(info: Mapping[str, Any]) -> Dashboard | None:
    """The dashboard recorded in ``runtime.json`` by the daemon, if it has one."""
    recorded = info.get("dashboard")
    if not isinstance(recorded, dict) or not recorded.get("url"):
        return None
    token_file = recorded.get("token_file")
    return Dashboard(str(recorded["url"]), str(recorded.get("auth") or ""),
                     Path(token_file) if token_file else None)


def api_get(settings: Settings, path: str) -> Any | None:
    """``GET path`` from the HTTP API of the ``mano up --api`` runtime: its JSON, read without a
    Ray driver (``import ray`` alone takes 1.5 s). None when no runtime serves the API, or it
    does not answer: the caller attaches through Ray then.

    Raises:
        ManoError: the API refused the request (a 4xx), with its ProblemDetails' ``detail``.
    """
    import urllib.error
    import urllib.request
    info = read_info(settings)
    url = info.get("api") if info else None
    if not url or not _alive(info.get("pid")):
        return None
    try:
        with urllib.request.urlopen(url + path, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            try:
                detail = json.loads(exc.read()).get("detail")
            except (ValueError, AttributeError):
                detail = None
            raise ManoError(detail or f"the HTTP API answered {exc.code} to {path}") from None
        return None
    except (OSError, ValueError):  # refused, timed out, not JSON: Ray's way still works
        return None


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _attached(settings: Settings, info: dict[str, Any]) -> Settings:
    # Ray's token (the daemon's Ray uses token auth) is sent because joining an address turns
    # token mode on when a token is available (mano.cluster.connection).
    return dataclasses.replace(settings, ray_address=settings.ray_address or info["ray_address"],
                               mongo_url=settings.mongo_url or info.get("mongo_url"))


def attach_or_start(settings: Settings) -> Any:
    """Attach to the ``mano up`` runtime if there is one, else start one for this process.

    A ``runtime.json`` whose daemon is dead and whose Ray does not answer is a runtime that is
    gone: it is forgotten and this command runs on its own runtime, saying so. Any other
    failure to attach is the caller's error; a live daemon stays recorded for ``mano down``."""
    import mano
    from mano.errors import ClusterUnreachableError
    info = read_info(settings)
    if info is None:
        return mano.init(settings)
    try:
        return mano.init(_attached(settings, info))
    except ClusterUnreachableError:
        if _alive(info.get("pid")):
            raise
    _info_file(settings).unlink(missing_ok=True)
    from mano.cli.render import errors
    errors.print(f"note: the runtime of `mano up` is gone (its Ray at {info.get('ray_address')} does not answer); "
                 "this command runs on a runtime of its own", markup=False, highlight=False)
    return mano.init(settings)


def release(rt: Any) -> None:
    """Leave the runtime: this command's own stops, a ``mano up`` one keeps running."""
    import mano
    mano.shutdown()


def down(settings: Settings) -> None:
    """Stop the background runtime: its daemon stops mano's actors (on a joined cluster only
    those), its own Ray and the store. If the daemon is dead or had to be killed, the actors it
    left on a joined cluster are stopped from here."""
    import signal
    import time
    info = read_info(settings)
    pid = info.get("pid") if info else None
    stopped_by_daemon = False
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stopped_by_daemon = not _alive(pid)
        if not stopped_by_daemon:  # it did not stop in time: its records are safe in the store
            os.killpg(pid, signal.SIGKILL)
    if info is not None and info.get("attached_to") and not stopped_by_daemon:
        _stop_actors_left_on(settings, info)
    _info_file(settings).unlink(missing_ok=True)


def _stop_actors_left_on(settings: Settings, info: dict[str, Any]) -> None:
    from actors import runtime as actor_runtime
    from mano.errors import ClusterError
    try:
        actor_runtime.init_ray(dataclasses.replace(settings, ray_address=info["ray_address"]))
    except ClusterError:
        return  # the cluster is gone, and mano's actors with it
    actor_runtime.stop_control_plane()
    actor_runtime.stop()
