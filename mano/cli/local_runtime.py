"""The runtime the CLI talks to: a background one from ``mano up``, or one for this command.

``mano up`` starts ``mano.cli.daemon`` in the background: a process that owns an embedded Ray
and the embedded store and records how to reach them in ``MANO_HOME/runtime.json``; later
commands find it there and attach; ``mano down`` stops it.
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


def up(settings: Settings, *, gateway: bool = False) -> dict[str, Any]:
    """Start the background runtime (``mano.cli.daemon``) unless one is up; return its info."""
    import time
    info = read_info(settings)
    if info is not None and _alive(info.get("pid")):
        return info
    settings.home.mkdir(parents=True, exist_ok=True)
    _info_file(settings).unlink(missing_ok=True)
    log = open(settings.home / "runtime.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "mano.cli.daemon", *(["--gateway"] if gateway else [])],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        info = read_info(settings)
        if info is not None:
            return info
        if process.poll() is not None:
            raise ManoError(f"the runtime did not start; see {settings.home / 'runtime.log'}")
        time.sleep(0.2)
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
        from actors import runtime as actor_runtime
        url = actor_runtime.dashboard_url()
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


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _attached(settings: Settings, info: dict[str, Any]) -> Settings:
    import dataclasses
    # The daemon's Ray uses token auth (token in ~/.ray); a client sends it only in token mode,
    # which Ray reads when it is first imported: so set it before anything imports ray.
    if (Path.home() / ".ray" / "auth_token").exists():
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    return dataclasses.replace(settings, ray_address=settings.ray_address or info["ray_address"],
                               mongo_url=settings.mongo_url or info.get("mongo_url"))


def attach_or_start(settings: Settings) -> Any:
    """Attach to the ``mano up`` runtime if there is one, else start one for this process."""
    import mano
    info = read_info(settings)
    if info is not None:
        try:
            return mano.init(_attached(settings, info))
        except Exception:  # noqa: BLE001 - a stale runtime.json: fall back to an embedded runtime
            _info_file(settings).unlink(missing_ok=True)
    return mano.init(settings)


def release(rt: Any) -> None:
    """Leave the runtime: shut it down if this process started it, else just detach."""
    import mano
    if read_info(rt.settings) is None:
        mano.shutdown()


def down(settings: Settings) -> None:
    """Stop the background runtime (it stops its actors, Ray and the store)."""
    import signal
    import time
    info = read_info(settings)
    pid = info.get("pid") if info else None
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):  # it did not stop in time: its records are safe in the store
            os.killpg(pid, signal.SIGKILL)
    _info_file(settings).unlink(missing_ok=True)
