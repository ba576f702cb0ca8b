"""The background runtime of ``mano up``: one process that owns an embedded Ray and the store.

It starts the runtime like any ``mano.init()``, records how to reach it in
``MANO_HOME/runtime.json`` (Ray's GCS address, the store URL, its pid, the Ray dashboard and how
to log in to it) and waits; later CLI commands attach to it; SIGTERM (``mano down``) stops the
actors, Ray and the store.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

import mano
from mano.settings import Settings


def main(argv: list[str]) -> None:
    settings = Settings.from_env()
    rt = mano.init(settings)
    if "--gateway" in argv:
        from mano.gateway.actor import start_gateway
        start_gateway(rt.settings)
    import os

    import ray
    from mano.cli import local_runtime
    info = {"ray_address": ray.get_runtime_context().gcs_address, "mongo_url": rt.store.url,
            "pid": os.getpid(), "dashboard": local_runtime.dashboard_info(local_runtime.dashboard())}
    path = settings.home / "runtime.json"
    path.write_text(json.dumps(info))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    path.unlink(missing_ok=True)
    mano.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
