"""The lifecycle core's unit tests run on an in-memory store (``Store.in_memory``: the same
repositories over mongomock), so they need no server; tests/store checks the repositories
against a real MongoDB wire-protocol server, and the integration tests run on one too."""
from __future__ import annotations

import pytest

from lifecycle_harness import Harness, small_pops
from mano.descriptors import load_service
from paths import EXAMPLES


@pytest.fixture
def demo():
    return load_service(EXAMPLES / "sonata-demo")


@pytest.fixture
def store():
    from mano.store.client import Store

    with Store.in_memory() as s:
        yield s


@pytest.fixture
def harness(store):
    return Harness(store, small_pops())
