"""The background runtime of ``mano up``: one process that owns the runtime's control plane.

It starts the runtime like any ``mano.init()``: on an embedded Ray of its own, or on the Ray
cluster of ``MANO_RAY_ADDRESS`` (``mano up --address``). It records how to reach it in
``MANO_HOME/runtime.json`` (Ray's GCS address, the cluster it joined, the store URL that every actor
uses (password removed) and whether it is a loopback one of this node only, its pid,
the Ray dashboard and how to log in to it, the HTTP API's URL with ``--api``) and waits; later CLI commands attach to it. If it
cannot start, it writes why to ``MANO_HOME/runtime.error`` for ``mano up`` to report, and
leaves nothing running. SIGTERM (``mano down``) stops mano's actors (on a joined cluster only
those: the cluster keeps running), then its Ray if it is its own, and the store.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading

import mano
from mano.errors import ManoError
from mano.settings import Settings


def _stop() -> None:
    from actors import runtime as actor_runtime
    # This process started the control plane, wherever it runs: mano.shutdown() alone would
    # leave it running on a cluster it joined.
    actor_runtime.stop_control_plane()
    mano.shutdown()


def main(argv: list[str]) -> None:
    settings = Settings.from_env()
    try:
        rt = mano.init(settings)
        if "--gateway" in argv:
            from mano.gateway.actor import start_gateway
            start_gateway(rt.settings)
        api = None
        if "--api" in argv:
            from mano.rest.app import serve
            api = serve(rt, settings.api_addr)
    except (ManoError, ValueError, OSError) as exc:  # OSError: the API's address is taken
        (settings.home / "runtime.error").write_text(str(exc))
        _stop()
        sys.exit(1)
    import ray
    from mano.cli import local_runtime
    info = {"ray_address": ray.get_runtime_context().gcs_address, "attached_to": settings.ray_address or None,
            "mongo_url": rt.store.url, "store_node_only": rt.settings.store_node is not None, "pid": os.getpid(),
            "dashboard": local_runtime.dashboard_info(local_runtime.dashboard()),
            "api": api.url if api is not None else None}
    path = settings.home / "runtime.json"
    path.write_text(json.dumps(info))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    path.unlink(missing_ok=True)
    if api is not None:
        api.stop()
    _stop()


if __name__ == "__main__":
    main(sys.argv[1:])
