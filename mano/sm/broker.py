"""Broker access for container SMs: one RabbitMQ user per SM, limited to its own topic.

What a container SM's user may do (vhost ``/``, checked in ``tests/sm/test_container_runner.py``):

====================  =========================================================================
configure             only queues named ``mano-sm.<user>.*`` (declare / delete its own queue);
                      nothing else, so it cannot declare, delete or re-type any exchange
                      (it checks the exchange with a *passive* declare, which needs no right)
write                 publish to the ``son-kernel`` exchange only (not ``amq.default``,
                      ``amq.topic``, ...); bind only its own queues
read                  bind from the ``son-kernel`` exchange; consume only its own queues
topic (son-kernel)    publish and bind **only** with routing key ``generic.ssm.<service_id>``
                      (``generic.fsm.<function_id>`` for an FSM): the regex is matched against
                      the literal key, so ``#`` or ``generic.ssm.*`` bindings are refused
user limits           at most 2 connections and 4 channels (RabbitMQ >= 3.10)
====================  =========================================================================

What cannot be restricted this way: the SSMs *of one service* share one topic (SONATA's
``generic.ssm.<service_id>``), so they can read each other's requests and answer for each
other (same developer, same trust); queue length and message rate are not limited (a
``mano-sm`` policy could cap queue length, not set here); the user can see that other
exchanges exist (passive declares are not authorised). ``guest`` and other broker users stay
unusable from a container: the broker's AMQP port is not reachable from the SM network, only
the :class:`AmqpGate`, which admits registered SM users and nobody else (RabbitMQ trusts
``guest`` from loopback, and the gate's connections come from loopback).

Users are created through the management HTTP API (what SONATA's SMR used) or, without the
management plugin, ``rabbitmqctl`` on the local node.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from mano.errors import ManoError

__all__ = ["AmqpGate", "BrokerAdmin", "BrokerAdminError", "CtlBrokerAdmin", "HttpBrokerAdmin", "SmBrokerUser",
           "make_broker_admin", "sm_user"]

log = logging.getLogger(__name__)

USER_PREFIX = "mano-sm-"
QUEUE_PREFIX = "mano-sm"


class BrokerAdminError(ManoError):
    """Creating or deleting a broker user failed."""


@dataclasses.dataclass(frozen=True)
class SmBrokerUser:
    """One SM's broker credentials and the regexes that limit them (see the module doc)."""

    name: str
    password: str
    topic: str
    exchange: str
    vhost: str = "/"

    @property
    def queue_prefix(self) -> str:
        """What the SM's queues are named with (``<prefix>.<anything>``)."""
        return f"{QUEUE_PREFIX}.{self.name}"

    @property
    def permissions(self) -> dict[str, str]:
        own = re.escape(self.queue_prefix) + r"\..*"
        exchange = re.escape(self.exchange)
        return {"configure": f"^{own}$", "write": f"^({own}|{exchange})$", "read": f"^({own}|{exchange})$"}

    @property
    def topic_permissions(self) -> dict[str, str]:
        key = f"^{re.escape(self.topic)}$"
        return {"exchange": self.exchange, "write": key, "read": key}

    def url(self, host: str, port: int) -> str:
        """The AMQP URL the SM connects with."""
        name, password = (urllib.parse.quote(v, safe="") for v in (self.name, self.password))
        return f"amqp://{name}:{password}@{host}:{port}/{urllib.parse.quote(self.vhost, safe='')}"


def sm_user(instance_key: str, topic: str, exchange: str) -> SmBrokerUser:
    """New credentials for one SM instance (``instance_key``: short and unique, e.g. record id + version)."""
    return SmBrokerUser(name=f"{USER_PREFIX}{instance_key}", password=secrets.token_urlsafe(24),
                        topic=topic, exchange=exchange)


class BrokerAdmin(Protocol):
    def create_user(self, user: SmBrokerUser) -> None: ...

    def delete_user(self, name: str) -> None: ...

    def users(self, prefix: str = USER_PREFIX) -> list[str]: ...


class HttpBrokerAdmin:
    """Users through RabbitMQ's management HTTP API (``/api/users``, ``/api/permissions``, ...)."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float = 10.0):
        self._url = url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._timeout = timeout

    def _request(self, method: str, path: str, body: Any = None, *, missing_ok: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": self._auth, "Content-Type": "application/json"}
        request = urllib.request.Request(f"{self._url}/api{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            if missing_ok and exc.code == 404:
                return None
            raise BrokerAdminError(f"{method} {path}: HTTP {exc.code} {exc.read()[:200]!r}") from None
        except OSError as exc:
            raise BrokerAdminError(f"{method} {path}: {exc}") from None
        return json.loads(raw) if raw else None

    def ping(self) -> None:
        self._request("GET", "/whoami")

    def create_user(self, user: SmBrokerUser) -> None:
        name, vhost = urllib.parse.quote(user.name, safe=""), urllib.parse.quote(user.vhost, safe="")
        self._request("PUT", f"/users/{name}", {"password": user.password, "tags": ""})
        self._request("PUT", f"/permissions/{vhost}/{name}", user.permissions)
        self._request("PUT", f"/topic-permissions/{vhost}/{name}", user.topic_permissions)
        for limit, value in (("max-connections", 2), ("max-channels", 4)):
            try:
                self._request("PUT", f"/user-limits/{name}/{limit}", {"value": value})
            except BrokerAdminError as exc:  # older brokers have no user limits
                log.debug("user limit %s not set: %s", limit, exc)

    def delete_user(self, name: str) -> None:
        self._request("DELETE", f"/users/{urllib.parse.quote(name, safe='')}", missing_ok=True)

    def users(self, prefix: str = USER_PREFIX) -> list[str]:
        return [u["name"] for u in self._request("GET", "/users") or [] if u["name"].startswith(prefix)]


class CtlBrokerAdmin:
    """Users through ``rabbitmqctl`` on the local node (no management plugin needed)."""

    def __init__(self, executable: str | None = None):
        self._exe = executable or shutil.which("rabbitmqctl")
        if not self._exe:
            raise BrokerAdminError("rabbitmqctl not found and no management API reachable")

    def _run(self, *args: str, ok_codes: tuple[int, ...] = (0,), stdin: str | None = None) -> str:
        result = subprocess.run([self._exe, "-q", *args], capture_output=True, text=True, timeout=60,
                                input=stdin, check=False)
        if result.returncode not in ok_codes:
            raise BrokerAdminError(f"rabbitmqctl {args[0]}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def create_user(self, user: SmBrokerUser) -> None:
        self._run("add_user", user.name, user.password)
        p = user.permissions
        self._run("set_permissions", "-p", user.vhost, user.name, p["configure"], p["write"], p["read"])
        t = user.topic_permissions
        self._run("set_topic_permissions", "-p", user.vhost, user.name, t["exchange"], t["write"], t["read"])
        limits = json.dumps({"max-connections": 2, "max-channels": 4})
        self._run("set_user_limits", user.name, limits, ok_codes=(0, 64, 69, 70))  # old brokers: no limits

    def delete_user(self, name: str) -> None:
        self._run("delete_user", name, ok_codes=(0, 69, 70))  # 69/70: no such user

    def users(self, prefix: str = USER_PREFIX) -> list[str]:
        lines = self._run("list_users", "--no-table-headers").splitlines()
        return [line.split()[0] for line in lines if line.strip() and line.split()[0].startswith(prefix)]


def make_broker_admin(broker_url: str, management_url: str | None = None) -> BrokerAdmin:
    """The management API at ``management_url`` (default ``http://<broker host>:15672``) with the
    broker URL's credentials; ``rabbitmqctl`` when that API does not answer."""
    parsed = urllib.parse.urlparse(broker_url)
    username = urllib.parse.unquote(parsed.username or "guest")
    password = urllib.parse.unquote(parsed.password or "guest")
    api = management_url or f"http://{parsed.hostname or 'localhost'}:15672"
    admin = HttpBrokerAdmin(api, username, password)
    try:
        admin.ping()
        return admin
    except BrokerAdminError as exc:
        log.info("RabbitMQ management API unavailable (%s): using rabbitmqctl", exc)
        return CtlBrokerAdmin()


# --- the AMQP gate ------------------------------------------------------------------------------
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"
_FRAME_END = 0xCE
_MAX_HANDSHAKE_FRAME = 64 * 1024


class AmqpGate:
    """A TCP relay from the SM network to the broker that admits registered SM users only.

    It reads the client's protocol header and its ``Connection.StartOk`` frame, takes the
    user name from the PLAIN response, and relays the connection only if that user was
    :meth:`allow`-ed; everything else (``guest``, other mechanisms, garbage) is closed before
    it reaches the broker. After the handshake the bytes flow unchanged both ways.
    """

    def __init__(self, listen_host: str, listen_port: int, broker_host: str, broker_port: int):
        self._broker = (broker_host, broker_port)
        self._allowed: set[str] = set()
        self._lock = threading.Lock()
        self._server = socket.create_server((listen_host, listen_port), reuse_port=False)
        self._server.settimeout(0.5)
        self.host, self.port = self._server.getsockname()[:2]
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        threading.Thread(target=self._accept_loop, name=f"amqp-gate-{self.port}", daemon=True).start()

    def allow(self, user: str) -> None:
        with self._lock:
            self._allowed.add(user)

    def deny(self, user: str) -> None:
        with self._lock:
            self._allowed.discard(user)

    def close(self) -> None:
        self._closed.set()
        self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="amqp-gate-conn", daemon=True).start()

    def _track(self, *sockets: socket.socket, add: bool = True) -> None:
        with self._lock:
            for sock in sockets:
                (self._sockets.add if add else self._sockets.discard)(sock)

    def _serve(self, client: socket.socket) -> None:
        broker: socket.socket | None = None
        try:
            client.settimeout(30)
            header = _read_exactly(client, len(_AMQP_HEADER))
            if header != _AMQP_HEADER:
                return
            broker = socket.create_connection(self._broker, timeout=10)
            broker.settimeout(None)
            self._track(client, broker)
            broker.sendall(header)
            relay_back = threading.Thread(target=_pipe, args=(broker, client), daemon=True)
            relay_back.start()  # Connection.Start, Tune, ... flow to the client
            frame = _read_frame(client)
            user = _start_ok_user(frame)
            with self._lock:
                admitted = user is not None and user in self._allowed
            if not admitted:
                log.warning("AMQP gate: refused a connection as %r", user)
                return
            broker.sendall(frame)
            client.settimeout(None)
            _pipe(client, broker)
            relay_back.join()
        except (OSError, ValueError):
            return
        finally:
            _close(client)
            if broker is not None:
                _close(broker)
                self._track(client, broker, add=False)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("connection closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> bytes:
    head = _read_exactly(sock, 7)
    frame_type, _channel, size = struct.unpack(">BHI", head)
    if frame_type != 1 or size > _MAX_HANDSHAKE_FRAME:
        raise ValueError("not a method frame")
    return head + _read_exactly(sock, size + 1)


def _start_ok_user(frame: bytes) -> str | None:
    """The user name of a ``Connection.StartOk`` frame with the PLAIN mechanism, else None."""
    try:
        payload = frame[7:-1]
        if frame[-1] != _FRAME_END or struct.unpack(">HH", payload[:4]) != (10, 11):
            return None
        offset = 4
        (table_size,) = struct.unpack(">I", payload[offset:offset + 4])
        offset += 4 + table_size
        mechanism_size = payload[offset]
        mechanism = payload[offset + 1:offset + 1 + mechanism_size].decode()
        offset += 1 + mechanism_size
        (response_size,) = struct.unpack(">I", payload[offset:offset + 4])
        response = payload[offset + 4:offset + 4 + response_size]
        if mechanism != "PLAIN":
            return None
        parts = response.split(b"\x00")
        return parts[1].decode() if len(parts) == 3 else None
    except (IndexError, struct.error, UnicodeDecodeError):
        return None


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
