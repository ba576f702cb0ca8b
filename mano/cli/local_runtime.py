"""The runtime the CLI talks to: a background one from ``mano up``, or one for this command.

``mano up`` starts a Ray head (``ray start --head``, dashboard on localhost) and the
embedded store, both outliving the command, and records the Ray address in
``MANO_HOME/runtime.json``; later commands find it there and attach.
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


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


def up(settings: Settings, *, gateway: bool = False) -> dict[str, Any]:
    import mano
    from mano.store.client import connect

    info = read_info(settings)
    if info is None:
        settings.home.mkdir(parents=True, exist_ok=True)
        command = [_ray_cli(), "start", "--head", "--disable-usage-stats", "--dashboard-host", "127.0.0.1",
                   f"--include-dashboard={'true' if settings.dashboard else 'false'}"]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
        if result.returncode != 0:
            raise ManoError(f"ray start failed: {result.stderr.strip()[-500:]}")
        store = connect(settings, stop_embedded_on_exit=False)
        info = {"ray_address": "auto", "mongo_url": store.url}
        store.close()
        _info_file(settings).write_text(json.dumps(info))
    rt = mano.init(_attached(settings, info))
    if gateway:
        from actors import runtime as actor_runtime
        actor_runtime.start_gateway(rt.settings)
    return info


def _attached(settings: Settings, info: dict[str, Any]) -> Settings:
    import dataclasses
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
    import mano
    from mano.store.embedded import EmbeddedMongo

    info = read_info(settings)
    if info is not None:
        try:
            mano.init(_attached(settings, info))
            mano.shutdown()
        except Exception:  # noqa: BLE001 - stop what can be stopped
            pass
        subprocess.run([_ray_cli(), "stop", "--force"], capture_output=True)
        _info_file(settings).unlink(missing_ok=True)
    if not settings.mongo_url:
        EmbeddedMongo(settings).stop()
