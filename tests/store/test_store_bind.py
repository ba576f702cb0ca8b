"""One store for the cluster (issue 16): the embedded server listens where ``MANO_STORE_BIND``
says, so that a cluster's other nodes reach it, and its URL names that address. All traffic
stays on this machine (127.0.0.2 is loopback too on Linux, but a different address)."""
from __future__ import annotations

import dataclasses

import psutil
import pytest

from mano.errors import StoreError
from mano.settings import Settings
from mano.store import EmbeddedMongo, connect, read_server_state
from mano.store.client import is_loopback_url
from mano.store.embedded import _answers_ping, advertised_address

pytestmark = pytest.mark.integration


def listening_addresses(pid: int, port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def answers(url: str) -> bool:
    return _answers_ping(url, 0.5)


def test_the_embedded_store_listens_on_the_bind_address_and_its_url_names_it(settings: Settings) -> None:
    settings = dataclasses.replace(settings, store_bind="127.0.0.2")
    store = connect(settings)
    try:
        server = store.embedded
        assert server is not None and server.url.startswith("mongodb://127.0.0.2:")
        port = read_server_state(settings).port
        assert listening_addresses(server.pid, port) == {"127.0.0.2"}
        assert not answers(f"mongodb://127.0.0.1:{port}/?directConnection=true")  # not loopback's 127.0.0.1
        assert store.url.startswith("mongodb://127.0.0.2:")
    finally:
        store.close()


def test_the_default_stays_loopback(settings: Settings) -> None:
    with EmbeddedMongo(settings) as server:
        assert server.url.startswith("mongodb://127.0.0.1:")
        assert listening_addresses(server.pid, read_server_state(settings).port) == {"127.0.0.1"}


def test_a_wildcard_bind_publishes_this_machines_address(settings: Settings) -> None:
    with EmbeddedMongo(dataclasses.replace(settings, store_bind="0.0.0.0")) as server:
        host = advertised_address("0.0.0.0")
        assert host != "0.0.0.0" and server.url.startswith(f"mongodb://{host}:")
        state = read_server_state(settings)
        assert state.bind == "0.0.0.0"
        assert listening_addresses(server.pid, state.port) == {"0.0.0.0"}
        assert answers(server.url)


def test_asking_for_another_bind_than_the_running_servers_is_an_error(settings: Settings) -> None:
    with EmbeddedMongo(settings):
        with pytest.raises(StoreError, match="runs listening on 127.0.0.1, not on MANO_STORE_BIND=127.0.0.2"):
            EmbeddedMongo(dataclasses.replace(settings, store_bind="127.0.0.2")).start()
        with EmbeddedMongo(settings) as attached:  # without a bind asked for, processes attach as before
            assert not attached.owner


def test_store_bind_comes_from_the_environment_and_store_node_never_does() -> None:
    settings = Settings.from_env({"MANO_STORE_BIND": "0.0.0.0", "MANO_STORE_NODE": "forged"})
    assert settings.store_bind == "0.0.0.0" and settings.store_node is None


@pytest.mark.parametrize("url, loopback", [
    ("mongodb://127.0.0.1:27017/?directConnection=true", True),
    ("mongodb://user:p%40ss@localhost:1,[::1]:2/db", True),
    ("mongodb://127.0.0.2:3", True),
    ("mongodb://10.1.2.3:27017", False),
    ("mongodb://127.0.0.1:1,db.example:2", False),
    ("mongodb+srv://cluster.example/db", False),
])
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback
