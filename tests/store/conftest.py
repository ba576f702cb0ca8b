"""Fixtures for the record store tests.

* ``load_sonata_yaml``: load a SONATA fixture file by its path under ``fixtures/sonata/``
  (found through the suite's ``sonata_fixtures`` fixture: ``tests/data/sonata``).
* ``settings``: a :class:`Settings` with a fresh, empty ``MANO_HOME`` for tests that start (and
  stop) their own embedded server.
* ``embedded_store``: one embedded nx-27017 server and :class:`Store` for the whole session,
  in its own temporary ``MANO_HOME`` (tests use fresh ids, so they do not see each other).
* ``run_python``: run a snippet in a fresh interpreter (for cross-process behaviour).

They build :class:`Settings` directly, never from the environment, so a developer's
``MANO_MONGO_URL`` or ``MANO_HOME`` cannot leak into the tests.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mano.settings import Settings
from mano.store import Store, connect

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_STORE_TIMEOUT_MS = 1000


@pytest.fixture(scope="session")
def load_sonata_yaml(sonata_fixtures: Path) -> Callable[[str], Any]:
    """Load a YAML file under ``fixtures/sonata/`` by relative path, e.g. ``"smr/nsr.yml"``."""
    def load(relative_path: str) -> Any:
        with (sonata_fixtures / relative_path).open() as stream:
            return yaml.safe_load(stream)
    return load


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with an empty MANO_HOME of its own (embedded store, short timeouts)."""
    return Settings(home=tmp_path / "mano-home", store_timeout_ms=TEST_STORE_TIMEOUT_MS)


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the session-wide embedded store."""
    home = tmp_path_factory.mktemp("session-mano-home")
    return Settings(home=home, store_timeout_ms=TEST_STORE_TIMEOUT_MS)


@pytest.fixture(scope="session")
def embedded_store(store_settings: Settings) -> Iterator[Store]:
    """A Store on an embedded nx-27017 server started once per session (and stopped after)."""
    store = connect(store_settings)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def new_id() -> Callable[..., str]:
    """Make unique ids (``new_id("svc")``), so tests sharing the session store never collide."""
    def make(prefix: str = "id") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"
    return make


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``code`` in a new interpreter with the repo importable; ``args`` become sys.argv[1:]."""
    def run(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        env = {k: v for k, v in env.items() if not k.startswith("MANO_")}
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                              env=env, timeout=timeout, check=False)
    return run
