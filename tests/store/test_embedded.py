"""Integration tests: the embedded server's lifecycle, sharing, restarts and outages."""
from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymongo.errors
import pytest

from mano.errors import StoreError, StoreUnavailableError
from mano.lifecycle.states import OperationType, ServiceState
from mano.records import OperationRecord, ServiceRecord
from mano.settings import Settings
from mano.store import EmbeddedMongo, Store, connect, read_server_state

pytestmark = pytest.mark.integration

RunPython = Callable[..., "subprocess.CompletedProcess[str]"]


def make_service(record_id: str) -> ServiceRecord:
    return ServiceRecord(id=record_id, name="demo", nsd={"name": "demo"}, vim="emulated")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connect_starts_an_embedded_server_under_mano_home(settings: Settings) -> None:
    with connect(settings) as store:
        assert store.embedded is not None and store.embedded.owner
        pid = store.embedded.pid
        assert pid is not None and alive(pid)
        state = read_server_state(settings)
        assert state is not None and state.pid == pid and state.url == store.url
        assert (settings.store_dir / "mano.db").exists()
        store.ping()
    assert not alive(pid)  # the owner stops it on close
    stopped = read_server_state(settings)
    assert stopped is not None and stopped.pid is None


def test_second_connect_attaches_to_the_running_server(embedded_store: Store, store_settings: Settings,
                                                       new_id: Callable[..., str]) -> None:
    assert embedded_store.embedded is not None
    server_pid = embedded_store.embedded.pid
    record = embedded_store.services.insert(make_service(new_id("svc")))
    with connect(store_settings) as second:
        assert second.embedded is not None and not second.embedded.owner
        assert second.embedded.pid == server_pid
        assert second.url == embedded_store.url
        assert second.services.get(record.id) == record
    assert server_pid is not None and alive(server_pid)  # an attached store only detaches on close
    embedded_store.ping()


def test_another_process_attaches_to_the_running_server(embedded_store: Store, store_settings: Settings,
                                                        run_python: RunPython, new_id: Callable[..., str]
                                                        ) -> None:
    record = embedded_store.services.insert(make_service(new_id("svc")))
    result = run_python(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from mano.settings import Settings\n"
        "from mano.store import connect\n"
        "store = connect(Settings(home=Path(sys.argv[1])))\n"
        "print(json.dumps({'owner': store.embedded.owner, 'pid': store.embedded.pid,\n"
        "                  'name': store.services.get(sys.argv[2]).name}))\n"
        "store.close()\n",
        str(store_settings.home), record.id)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert embedded_store.embedded is not None
    assert seen == {"owner": False, "pid": embedded_store.embedded.pid, "name": "demo"}
    embedded_store.ping()  # still up after the other process exited


def test_owner_process_stops_the_server_at_exit(settings: Settings, run_python: RunPython) -> None:
    result = run_python(
        "import sys\n"
        "from pathlib import Path\n"
        "from mano.settings import Settings\n"
        "from mano.store import connect\n"
        "store = connect(Settings(home=Path(sys.argv[1])))\n"
        "print(store.embedded.pid)\n",  # exits without close(): the atexit hook stops the server
        str(settings.home))
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    state = read_server_state(settings)
    assert state is not None and state.pid is None


def test_server_left_running_is_reused_then_stopped(settings: Settings, run_python: RunPython) -> None:
    result = run_python(
        "import sys\n"
        "from pathlib import Path\n"
        "from mano.settings import Settings\n"
        "from mano.store import connect\n"
        "from mano.records import PluginRecord\n"
        "store = connect(Settings(home=Path(sys.argv[1])), stop_embedded_on_exit=False)\n"
        "store.plugins.insert(PluginRecord(id='p1', name='son-plugin.SLM', version='1'))\n"
        "print(store.embedded.pid)\n"
        "store.close()\n",
        str(settings.home))
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout)
    try:
        assert alive(pid)
        with connect(settings) as store:
            assert store.embedded is not None and not store.embedded.owner
            assert store.embedded.pid == pid
            assert store.plugins.get("p1").name == "son-plugin.SLM"
    finally:
        EmbeddedMongo(settings).stop()  # what `mano down` does
    assert not alive(pid)


def test_stopping_where_no_server_ever_ran_is_a_no_op(settings: Settings) -> None:
    EmbeddedMongo(settings).stop()
    assert not settings.home.exists()
    assert read_server_state(settings) is None


def test_stale_state_file_does_not_block_a_start(settings: Settings) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    settings.store_dir.mkdir(parents=True)
    (settings.store_dir / "embedded.json").write_text(
        json.dumps({"host": "127.0.0.1", "port": free_port(), "pid": dead.pid}))
    (settings.store_dir / "nx-27017.pid").write_text(str(os.getpid()))  # nx would refuse this
    recorded = read_server_state(settings)
    assert recorded is not None and recorded.pid is None  # a dead server is reported as stopped
    with connect(settings) as store:
        assert store.embedded is not None and store.embedded.owner
        assert store.embedded.pid != dead.pid
        store.ping()


def test_restart_keeps_data_and_clients_reconnect(settings: Settings) -> None:
    store = connect(settings)
    try:
        assert store.embedded is not None
        service = store.services.insert(make_service("svc-kept"))
        operation = store.operations.insert(OperationRecord(id="op-kept", type=OperationType.TERMINATE,
                                                            service_id="svc-kept"))
        old_url = store.url
        store.embedded.stop()
        with pytest.raises(StoreUnavailableError):
            store.services.get("svc-kept")

        with EmbeddedMongo(settings) as restarted:  # a new server process on the same data
            assert restarted.owner
            assert restarted.url == old_url  # the previous port is reused when free...
            assert store.services.get("svc-kept") == service  # ...so existing clients reconnect
            assert store.operations.get("op-kept") == operation
            store.services.update(service.model_copy(update={"state": ServiceState.READY}))
        with connect(settings) as reopened:
            assert reopened.services.get("svc-kept").state is ServiceState.READY
    finally:
        store.close()


def test_outage_raises_store_unavailable_quickly(settings: Settings) -> None:
    quick = Settings(home=settings.home, store_timeout_ms=300)
    store = connect(quick)
    try:
        kept = store.services.insert(make_service("svc-1"))
        assert store.embedded is not None
        store.embedded.stop()
        calls: list[Callable[[], Any]] = [
            store.ping,
            lambda: store.services.get("svc-1"),
            lambda: store.services.find({"state": ServiceState.READY}),
            lambda: store.services.count(),
            lambda: store.services.insert(make_service("svc-2")),
            lambda: store.services.update(kept),
            lambda: store.services.upsert(kept),
            lambda: store.services.mutate("svc-1", lambda s: s),
            lambda: store.services.delete("svc-1"),
            lambda: store.services.existing_indexes(),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as caught:
                call()
            assert time.monotonic() - started < 3.0
            assert not isinstance(caught.value, pymongo.errors.PyMongoError)
            assert "is unreachable" in str(caught.value) and "127.0.0.1" in str(caught.value)
            assert caught.value.retryable
    finally:
        store.close()


def test_unreachable_mongo_url_fails_fast_without_leaking_the_password(tmp_path: Any) -> None:
    url = f"mongodb://mano:s3cret@127.0.0.1:{free_port()}/?directConnection=true"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        connect(Settings(home=tmp_path, mongo_url=url, store_timeout_ms=300))
    assert time.monotonic() - started < 3.0
    assert "s3cret" not in str(caught.value) and "mano:***@127.0.0.1" in str(caught.value)
    assert not (tmp_path / "store").exists()  # with a URL, no embedded server is started


def test_invalid_mongo_url_is_a_store_error(tmp_path: Any) -> None:
    with pytest.raises(StoreError):
        connect(Settings(home=tmp_path, mongo_url="http://not-mongo", store_timeout_ms=300))


def test_pass_settings_not_stores_between_processes(embedded_store: Store, store_settings: Settings) -> None:
    assert pickle.loads(pickle.dumps(store_settings)) == store_settings
    with pytest.raises(TypeError, match="connect"):
        pickle.dumps(embedded_store)
    with pytest.raises(TypeError, match="connect"):
        pickle.dumps(embedded_store.embedded)


def test_the_server_port_is_outside_the_ephemeral_range(settings: Settings) -> None:
    """Outgoing connections take local ports from the ephemeral range: a server port there could
    be taken while the server is down, and a restart would have to move away from its clients."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    with EmbeddedMongo(settings) as server:
        port = read_server_state(settings).port
        assert 20000 <= port < low
        assert server.url.endswith(f":{port}/?directConnection=true")


def test_a_restart_waits_for_its_previous_port_to_be_released(settings: Settings) -> None:
    with EmbeddedMongo(settings) as first:
        url = first.url
        port = read_server_state(settings).port
    squatter = socket.socket()  # something holds the port for a moment after the stop
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    release = __import__("threading").Timer(1.0, squatter.close)
    release.start()
    try:
        with EmbeddedMongo(settings) as restarted:
            assert restarted.url == url  # waited instead of moving away from its clients
    finally:
        release.cancel()
        squatter.close()
