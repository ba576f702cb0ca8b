"""Fixtures shared by the whole suite.

The SONATA fixtures live in ``tests/data/sonata`` (see its README for their origin and licence).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from paths import EXAMPLES, SONATA


@pytest.fixture(scope="session")
def sonata_fixtures() -> Path:
    if not SONATA.is_dir():
        pytest.fail(f"SONATA fixtures not found at {SONATA}")
    return SONATA


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return EXAMPLES / "sonata-demo"


# --- the record store: one embedded nx-27017 server per test session --------------------------
@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory) -> str:
    """URL of a real MongoDB wire-protocol server (embedded nx-27017, or MANO_TEST_MONGO_URL)."""
    if os.environ.get("MANO_TEST_MONGO_URL"):
        yield os.environ["MANO_TEST_MONGO_URL"]
        return
    from mano.settings import Settings
    from mano.store.embedded import EmbeddedMongo

    server = EmbeddedMongo(Settings(home=tmp_path_factory.mktemp("mano-home"))).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def store(mongo_url):
    """A Store on a fresh database of the session server (tests never see each other's data)."""
    import uuid

    from mano.store.client import Store

    s = Store(mongo_url, database=f"t{uuid.uuid4().hex[:12]}", timeout_ms=5000)
    try:
        yield s
    finally:
        s.close()
