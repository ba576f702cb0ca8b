"""Broker harness for tests, CI and benchmarks (real RabbitMQ, never a mock).

``ensure_broker()`` makes sure a local RabbitMQ accepts AMQP: if nothing listens on the
port it starts ``rabbitmq-server -detached``; if the Erlang node runs but its app was
stopped (``rabbitmqctl stop_app``) it runs ``rabbitmqctl start_app``; then it waits until a
real AMQP handshake succeeds (an open port alone is not enough: the node opens it before
it is ready). ``broker_outage()`` stops and always restarts the broker app, for reconnect
tests. These helpers shell out to the RabbitMQ CLI and so only manage a *local* broker;
for a remote URL they can only wait.

:class:`BrokerProxy` is a TCP proxy in front of the broker that fakes network faults for
the clients that connect *through it* only: cut connections, refuse new ones (a broker
that is "down"), or hold the broker's replies (so publisher confirms never arrive).

Note that ``broker_outage`` affects every client of that broker, so do not run it against a
broker that other test runs share at the same moment.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pika
import pika.exceptions

from mano.errors import BrokerUnavailableError
from mano.settings import DEFAULT_BROKER_URL

__all__ = ["BrokerProxy", "broker_accepts", "broker_outage", "close_connections",
           "delete_exchanges",
           "delete_queues", "ensure_broker", "start_broker_app", "stop_broker_app",
           "wait_for_broker"]

LOG = logging.getLogger("mano.messaging.testing")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", ""}


def _host_port(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlparse(url)
    default = 5671 if parsed.scheme == "amqps" else 5672
    return parsed.hostname or "localhost", parsed.port or default


def _port_open(url: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(_host_port(url), timeout=timeout):
            return True
    except OSError:
        return False


def broker_accepts(url: str = DEFAULT_BROKER_URL, timeout: float = 2.0) -> bool:
    """True if an AMQP connection to ``url`` opens (and is closed again) within ``timeout``."""
    if not _port_open(url, timeout):
        return False
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)  # a refused probe is not an error worth logging
    try:
        connection = pika.BlockingConnection(params)
    except (pika.exceptions.AMQPError, OSError):
        return False
    finally:
        pika_log.setLevel(level)
    with contextlib.suppress(Exception):
        connection.close()
    return True


def wait_for_broker(url: str = DEFAULT_BROKER_URL, timeout: float = 30.0,
                    interval: float = 0.25) -> None:
    """Block until the broker accepts AMQP; :class:`BrokerUnavailableError` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if broker_accepts(url, timeout=min(2.0, max(0.2, deadline - time.monotonic()))):
            return
        if time.monotonic() >= deadline:
            host, port = _host_port(url)
            raise BrokerUnavailableError(f"no AMQP broker at {host}:{port} after {timeout} s")
        time.sleep(interval)


def _is_local(url: str) -> bool:
    return _host_port(url)[0] in _LOCAL_HOSTS


def _run(*argv: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(argv[0])
    if exe is None:
        raise BrokerUnavailableError(f"{argv[0]} not found; install RabbitMQ or set "
                                     f"MANO_BROKER_URL to a running broker")
    LOG.info("running %s", " ".join(argv))
    return subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                          check=False)


def _node_running() -> bool:
    try:
        return _run("rabbitmqctl", "-q", "ping", timeout=20.0).returncode == 0
    except (BrokerUnavailableError, subprocess.TimeoutExpired):
        return False


def ensure_broker(url: str = DEFAULT_BROKER_URL, timeout: float = 60.0) -> None:
    """Make sure a broker accepts AMQP at ``url``, starting the local one if needed."""
    if broker_accepts(url):
        return
    if _is_local(url):
        if _node_running():
            start_broker_app(url, timeout=timeout)
            return
        if not _port_open(url):
            result = _run("rabbitmq-server", "-detached", timeout=30.0)
            if result.returncode != 0:
                LOG.warning("rabbitmq-server -detached: %s", result.stderr.strip())
    wait_for_broker(url, timeout)


def stop_broker_app(timeout: float = 60.0) -> None:
    """``rabbitmqctl stop_app``: the node stays up, every AMQP connection is closed."""
    result = _run("rabbitmqctl", "-q", "stop_app", timeout=timeout)
    if result.returncode != 0:
        raise BrokerUnavailableError(f"rabbitmqctl stop_app failed: {result.stderr.strip()}")


def start_broker_app(url: str = DEFAULT_BROKER_URL, timeout: float = 60.0) -> None:
    """``rabbitmqctl start_app``, then wait until AMQP is accepted again."""
    result = _run("rabbitmqctl", "-q", "start_app", timeout=timeout)
    if result.returncode != 0:
        raise BrokerUnavailableError(f"rabbitmqctl start_app failed: {result.stderr.strip()}")
    wait_for_broker(url, timeout)


@contextlib.contextmanager
def broker_outage(url: str = DEFAULT_BROKER_URL, timeout: float = 60.0) -> Iterator[None]:
    """Stop the local broker app for the ``with`` block; it is *always* restarted after."""
    stop_broker_app(timeout)
    try:
        yield
    finally:
        start_broker_app(url, timeout)


def close_connections(connection_name: str, reason: str = "closed by mano.messaging.testing"
                      ) -> int:
    """Force-close the local broker's connections whose client ``connection_name`` matches.

    A targeted way to test reconnection: unlike :func:`broker_outage` it disturbs no other
    client. :class:`~mano.messaging.bus.Bus` uses its ``name`` as connection name.
    Returns how many connections were closed.
    """
    listing = _run("rabbitmqctl", "-q", "list_connections", "--no-table-headers", "pid",
                   "client_properties", timeout=30.0)
    if listing.returncode != 0:
        raise BrokerUnavailableError(f"rabbitmqctl list_connections failed: {listing.stderr}")
    marker = '{"connection_name","' + connection_name + '"}'
    closed = 0
    for line in listing.stdout.splitlines():
        pid, _, props = line.partition("\t")
        if marker in props:
            result = _run("rabbitmqctl", "-q", "close_connection", pid.strip(), reason,
                          timeout=30.0)
            closed += result.returncode == 0
    return closed


def _admin(url: str, action: str, names: list[str], **kwargs: object) -> None:
    if not names:
        return
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        LOG.warning("cleanup skipped (%s): %s", action, exc)
        return
    try:
        for name in names:
            channel = connection.channel()
            try:
                getattr(channel, action)(name, **kwargs)
            except pika.exceptions.ChannelClosedByBroker:
                continue  # already gone
            with contextlib.suppress(Exception):
                channel.close()
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def delete_exchanges(url: str, *names: str) -> None:
    """Delete exchanges (test clean-up); missing ones are ignored."""
    _admin(url, "exchange_delete", list(names))


def delete_queues(url: str, *names: str) -> None:
    """Delete queues (test clean-up); missing ones are ignored."""
    _admin(url, "queue_delete", list(names))


class BrokerProxy:
    """A TCP proxy to the broker for fault injection, affecting only its own clients.

    Use :attr:`url` instead of the broker URL. :meth:`drop` cuts every proxied
    connection; :meth:`refuse` makes new connections fail as if the broker were down;
    :meth:`hold_replies` keeps the broker's bytes (confirms, deliveries, heartbeats) from
    reaching the clients until :meth:`release_replies` or :meth:`drop` (which discards
    them), while client bytes still reach the broker.
    """

    def __init__(self, url: str = DEFAULT_BROKER_URL):
        self._target = _host_port(url)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        parsed = urllib.parse.urlparse(url)
        creds = parsed.netloc.rpartition("@")[0]
        netloc = f"{creds}@127.0.0.1:{self.port}" if creds else f"127.0.0.1:{self.port}"
        self.url = urllib.parse.urlunparse(parsed._replace(netloc=netloc))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[tuple[socket.socket, bytes]] = []
        self._holding = False
        self._refusing = False
        self._closed = False
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, name="broker-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing or self._closed
            if refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
                self.connections += 1
            for src, dst, downstream in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(src, dst, downstream), daemon=True,
                                 name="broker-proxy-pump").start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    if downstream and self._holding:
                        self._held.append((dst, data))
                        continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def hold_replies(self) -> None:
        """Stop forwarding broker → client bytes (they are kept)."""
        with self._lock:
            self._holding = True

    def release_replies(self) -> None:
        """Forward the held bytes and resume normal forwarding."""
        with self._lock:
            self._holding = False
            held, self._held = self._held, []
        for dst, data in held:
            with contextlib.suppress(OSError):
                dst.sendall(data)

    def refuse(self, refusing: bool = True) -> None:
        """While set, new connections are closed at once (the broker looks down)."""
        with self._lock:
            self._refusing = refusing

    def drop(self) -> int:
        """Cut every proxied connection (held bytes are discarded); returns how many."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
            self._held = []
            self._holding = False
        for client, upstream in pairs:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        return len(pairs)

    def close(self) -> None:
        """Drop all connections and stop listening."""
        with self._lock:
            self._closed = True
        self.drop()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def __enter__(self) -> BrokerProxy:  # noqa: PYI034 - no typing.Self on 3.10
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
