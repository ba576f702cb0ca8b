"""The embedded record store: an nx-27017 MongoDB wire-protocol server on SQLite.

When ``MANO_MONGO_URL`` is unset, mano runs its own store server so that a laptop needs no
MongoDB. The driver, the queries and the error handling are the production ones (pymongo over
the wire protocol); only the server differs.

Lifecycle and sharing
---------------------
* The server runs as a child process (``python -m nx_27017.nx_27017``) with its SQLite files in
  ``settings.store_dir`` (``$MANO_HOME/store``), listening on 127.0.0.1 only unless
  ``settings.store_bind`` (``MANO_STORE_BIND``) names the address to listen on, so that the other
  nodes of a Ray cluster reach it: an address of this machine (the URL names it), or ``0.0.0.0``
  (the URL names this machine's address, the one its default route leaves from).
* ``start()`` either **attaches** to the server already running for this ``MANO_HOME`` (found
  through the state file ``store/embedded.json``: pid, host, port) or **starts** one and writes
  that file. A file lock (``store/embedded.lock``) makes check-and-start atomic, so two mano
  processes starting at once (``mano up`` and a CLI command, or several Ray actors) end up on
  one server. The server runs in its own session, so Ctrl-C in a terminal reaches only mano,
  which then stops it cleanly.
* The process that started the server **owns** it: ``release()`` (also registered with atexit,
  and called by ``Store.close()`` / the context manager) stops it when the owner is done.
  Attached processes only detach. ``stop()`` stops the server whoever started it (for
  ``mano down`` and tests). A crashed owner leaves the server running; the next ``start()``
  attaches to it, so nothing is lost and nothing is started twice.
* A restarted server reuses its previous port when it is free, so clients in other processes
  (which keep their URL) reconnect by themselves after a restart.
* Data survives restarts: committed SQLite (WAL) transactions are durable even if the server
  has to be killed.

nx-27017 notes: it logs to stderr and to ``--log-file``; stderr goes to ``store/nx-27017.log``
(rotated once past 5 MB) and the log file to ``os.devnull``, so each line is written once and
start-up tracebacks (e.g. port in use) are kept too. It also writes its own ``--pid-file`` and
refuses to start while that names a live process; the state file is the source of truth and a
stale pid file is removed before a start.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pymongo.errors
from typing_extensions import Self

from mano.errors import StoreError, StoreUnavailableError
from mano.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = "embedded.json"
LOCK_FILE = "embedded.lock"
LOG_FILE = "nx-27017.log"
PID_FILE = "nx-27017.pid"
HOST = "127.0.0.1"
_LOG_ROTATE_BYTES = 5 * 1024 * 1024
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
_PORT_RANGE = (20000, 32768)  # above Ray's worker ports (10002-19999), below ephemeral ports
_PREVIOUS_PORT_WAIT_S = 5.0  # a server that just stopped may hold its port a moment longer


@dataclasses.dataclass(frozen=True)
class ServerState:
    """What the state file records about the embedded server of one ``MANO_HOME``."""

    host: str  # the address in its URL
    port: int
    pid: int | None = None  # None: not running (the port is kept for the next start)
    started_at: str | None = None
    bind: str | None = None  # the address it listens on (None: ``host``)

    @property
    def listens_on(self) -> str:
        return self.bind or self.host

    @property
    def url(self) -> str:
        """The MongoDB URL of this server."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"


class EmbeddedMongo:
    """Start, attach to, and stop the embedded nx-27017 server of a ``MANO_HOME``.

    Args:
        settings: ``settings.store_dir`` holds the data, log and state files.
        port: a fixed port; default: the previous run's port if free, else any free port.
        start_timeout_s: how long to wait for a new server to answer a ping.
        stop_on_exit: whether the owner stops the server on ``release()`` / interpreter exit.
    """

    def __init__(self, settings: Settings, *, port: int | None = None,
                 start_timeout_s: float = 20.0, stop_on_exit: bool = True):
        self.store_dir = Path(settings.store_dir)
        self._fixed_port = port
        self._bind = settings.store_bind or HOST
        self._bind_asked = bool(settings.store_bind)
        self._start_timeout_s = start_timeout_s
        self._stop_on_exit = stop_on_exit
        self._state: ServerState | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid: int | None = None

    def __repr__(self) -> str:
        role = "owner" if self.owner else "attached" if self._state else "not started"
        where = f" {self._state.host}:{self._state.port} pid {self._state.pid}" if self._state else ""
        return f"<EmbeddedMongo {self.store_dir}{where} ({role})>"

    @property
    def owner(self) -> bool:
        """Whether this object started the server (and so stops it on release)."""
        return self._process is not None

    @property
    def url(self) -> str:
        """The MongoDB URL of the running server (after ``start()``)."""
        if self._state is None:
            raise StoreError(f"embedded store under {self.store_dir} is not started")
        return self._state.url

    @property
    def pid(self) -> int | None:
        """The server's process id (None before ``start()``)."""
        return self._state.pid if self._state else None

    @property
    def log_file(self) -> Path:
        """The server's log (stderr of nx-27017)."""
        return self.store_dir / LOG_FILE

    # --- start / attach ------------------------------------------------------------------------
    def start(self) -> Self:
        """Attach to this ``MANO_HOME``'s running server, or start one; idempotent.

        Raises:
            StoreUnavailableError: the server did not come up (the message quotes its log), or
                a recorded server is alive but does not answer.
        """
        if self._state is not None:
            return self
        self.store_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            previous = _read_state(self.store_dir)
            if previous is not None and previous.pid is not None and _is_server_process(previous.pid):
                if self._bind_asked and previous.listens_on != self._bind:
                    raise StoreError(
                        f"the embedded record store under {self.store_dir} runs listening on "
                        f"{previous.listens_on}, not on MANO_STORE_BIND={self._bind}; stop it first "
                        f"(`mano down`, or `kill {previous.pid}`)")
                self._attach(previous)
                return self
            self._launch(previous)
        return self

    def _attach(self, state: ServerState) -> None:
        if not _answers_ping(state.url, timeout_s=min(5.0, self._start_timeout_s)):
            raise StoreUnavailableError(
                f"embedded record store (pid {state.pid}, {state.host}:{state.port}) is running but "
                f"does not answer; see {self.log_file}, or stop it with `kill {state.pid}`")
        self._state = state
        log.info("attached to embedded record store pid %s on port %s", state.pid, state.port)

    def _launch(self, previous: ServerState | None) -> None:
        (self.store_dir / PID_FILE).unlink(missing_ok=True)
        _rotate(self.log_file)
        failure = ""
        for _attempt in range(_START_ATTEMPTS):
            port = self._choose_port(previous)
            process = self._spawn(port)
            host = advertised_address(self._bind)
            state = ServerState(host, port, process.pid, _now_iso(),
                                bind=None if self._bind == host else self._bind)
            failure = _wait_until_ready(process, state.url, self._start_timeout_s, self.log_file)
            if not failure:
                self._process, self._state, self._owner_pid = process, state, os.getpid()
                _write_state(self.store_dir, state)
                atexit.register(self._release_at_exit)
                log.info("started embedded record store pid %s on port %s", process.pid, port)
                return
            if self._fixed_port is not None:
                break
            previous = None  # the remembered port did not work out: pick a fresh one
        raise StoreUnavailableError(f"embedded record store under {self.store_dir} did not start: "
                                    f"{failure}")

    def _choose_port(self, previous: ServerState | None) -> int:
        if self._fixed_port is not None:
            return self._fixed_port
        if previous is not None and previous.listens_on != self._bind:
            previous = None  # another address: its port says nothing about this one
        if previous is not None:
            deadline = time.monotonic() + _PREVIOUS_PORT_WAIT_S
            while True:  # clients keep their URL: moving is the last resort
                if _port_is_free(previous.port, self._bind):
                    return previous.port
                if time.monotonic() > deadline:
                    log.warning("the store's previous port %d is taken; moving to another", previous.port)
                    break
                time.sleep(0.2)
        return _free_port(self._bind)

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "nx_27017.nx_27017", "--data-dir", str(self.store_dir),
                   "--host", self._bind, "-p", str(port), "--log-file", os.devnull,
                   "--pid-file", str(self.store_dir / PID_FILE)]
        with self.log_file.open("ab") as log_stream:
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log_stream, start_new_session=True, close_fds=True)

    # --- stop / release ------------------------------------------------------------------------
    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the embedded server of this ``MANO_HOME``, whoever started it; idempotent.

        SIGTERM first; SIGKILL after ``timeout_s`` (committed data is safe either way).
        """
        if not self.store_dir.is_dir():
            self._forget()
            return  # no store here, so no server either
        with self._locked():
            state = self._state or _read_state(self.store_dir)
            if self._process is not None:
                _terminate_child(self._process, timeout_s)
            elif state is not None and state.pid is not None and _is_server_process(state.pid):
                _terminate_pid(state.pid, timeout_s)
            recorded = _read_state(self.store_dir)
            if state is not None and recorded is not None and recorded.pid == state.pid:
                _write_state(self.store_dir, dataclasses.replace(recorded, pid=None))
        self._forget()

    def release(self) -> None:
        """Done with the server: stop it if this process started it (and ``stop_on_exit``)."""
        if self.owner and self._stop_on_exit and self._owner_pid == os.getpid():
            self.stop()
        else:
            self._forget()

    def _release_at_exit(self) -> None:
        with contextlib.suppress(Exception):  # never let an atexit hook mask the real exit status
            self.release()

    def _forget(self) -> None:
        atexit.unregister(self._release_at_exit)
        self._state = None
        self._process = None
        self._owner_pid = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __getstate__(self) -> Any:
        raise TypeError("EmbeddedMongo cannot be pickled: pass Settings and call connect() in the "
                        "other process (it attaches to the running server)")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.store_dir / LOCK_FILE).open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


# --- state file ----------------------------------------------------------------------------------
def read_server_state(settings: Settings) -> ServerState | None:
    """The embedded server recorded for ``settings.home``, or None if none ever ran there.

    ``pid`` is None unless the recorded process is still a running nx-27017 server (a crashed
    server leaves its pid in the state file).
    """
    state = _read_state(Path(settings.store_dir))
    if state is not None and state.pid is not None and not _is_server_process(state.pid):
        state = dataclasses.replace(state, pid=None)
    return state


def _read_state(store_dir: Path) -> ServerState | None:
    try:
        data = json.loads((store_dir / STATE_FILE).read_text())
        return ServerState(host=str(data["host"]), port=int(data["port"]),
                           pid=None if data.get("pid") is None else int(data["pid"]),
                           started_at=data.get("started_at"), bind=data.get("bind") or None)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: as if no server had ever run


def _write_state(store_dir: Path, state: ServerState) -> None:
    tmp = store_dir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n")
    tmp.replace(store_dir / STATE_FILE)  # atomic: readers never see half a file


# --- processes and ports -------------------------------------------------------------------------
def _is_server_process(pid: int) -> bool:
    """Whether ``pid`` is a running nx-27017 process; guards against pid reuse."""
    if not _is_running(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no procfs (macOS): trust the pid
    except OSError:
        return False
    return b"nx_27017" in cmdline or b"nx-27017" in cmdline


def _is_running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited child nobody has reaped yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return not Path("/proc/self").exists()  # no procfs: the pid exists, trust it
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _terminate_child(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _terminate_pid(pid: int, timeout_s: float) -> None:
    """Stop a server another process started (we cannot ``wait()`` for it)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _is_running(pid):  # not _is_server_process: an exiting process has no cmdline
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.02)


def _port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str = HOST) -> int:
    """A free port *below* the kernel's ephemeral range (and above Ray's worker ports).

    A port from the ephemeral range (what ``bind(0)`` gives) can be taken as the local port of
    any outgoing connection while the server is down, and the restarted server would then have
    to move, leaving every client with a dead URL (seen under load: 1 s of downtime was enough).
    """
    low = _ephemeral_low()
    candidates = list(range(_PORT_RANGE[0], min(_PORT_RANGE[1], low)))
    random.shuffle(candidates)
    for port in candidates[:200]:
        if _port_is_free(port, host):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # no luck: let the kernel pick
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def advertised_address(bind: str) -> str:
    """The address other machines reach a server listening on ``bind`` at: ``bind`` itself,
    or for a wildcard (``0.0.0.0``) this machine's address that its default route leaves from."""
    if bind not in ("0.0.0.0", ""):
        return bind
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP "connect" only picks a route: nothing is sent
            return str(probe.getsockname()[0])
        except OSError:
            return socket.gethostbyname(socket.gethostname())


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _answers_ping(url: str, timeout_s: float) -> bool:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=int(timeout_s * 1000), connectTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float,
                      log_file: Path) -> str:
    """Wait for the new server to answer; return "" when ready, else why it is not."""
    deadline = time.monotonic() + timeout_s
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=200, connectTimeoutMS=200)
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"server exited with code {process.returncode}: {_log_tail(log_file)}"
            try:
                client.admin.command("ping")
                return ""
            except pymongo.errors.PyMongoError:
                time.sleep(0.05)
    finally:
        client.close()
    _terminate_child(process, 5.0)
    return f"no answer within {timeout_s:.0f} s: {_log_tail(log_file)}"


def _log_tail(log_file: Path, lines: int = 5) -> str:
    try:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"(no log at {log_file})"
    return " | ".join(tail) or f"(empty log {log_file})"


def _rotate(log_file: Path) -> None:
    with contextlib.suppress(OSError):
        if log_file.stat().st_size > _LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_suffix(log_file.suffix + ".1"))


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
