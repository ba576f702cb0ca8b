"""The runtime the CLI talks to: a background one from ``mano up``, or one for this command.

``mano up`` starts ``mano.cli.daemon`` in the background: a process that owns an embedded Ray
and the embedded store and records how to reach them in ``MANO_HOME/runtime.json``; later
commands find it there and attach; ``mano down`` stops it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
