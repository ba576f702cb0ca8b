"""Helpers of the SOL005 API's live tests: a free port, the API served on the session runtime,
following a 202 to its operation occurrence, and a real HTTP notification receiver."""
from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from typing import Any, Iterator

from conftest_runtime import wait_until

ROOT = "/nslcm/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def api_client(rt) -> Iterator[Any]:
    """An httpx client of the API served from this process on the runtime ``rt``."""
    import httpx

    from mano.rest.app import serve
    server = serve(rt, f"127.0.0.1:{free_port()}")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client
    finally:
        server.stop()


def follow(api, response, state="COMPLETED", timeout=60):
    """The operation occurrence a 202 points to, once it reached ``state``."""
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    assert location.startswith(f"{ROOT}/ns_lcm_op_occs/")
    wait_until(lambda: api.get(location).json()["operationState"] == state, timeout=timeout)
    return api.get(location).json()


class Receiver:
    """A notification receiver on a real socket: answers SOL005's test GET with 204 and records
    every POST (its headers and raw body). It can be stopped and started again on its port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(204)
                self.end_headers()

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(body) for _, body in self.received]
