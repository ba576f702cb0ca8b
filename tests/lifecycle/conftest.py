from __future__ import annotations

import pytest

from lifecycle_harness import Harness, small_pops
from mano.descriptors import load_service
from paths import EXAMPLES


@pytest.fixture
def demo():
    return load_service(EXAMPLES / "sonata-demo")


@pytest.fixture
def harness(store):
    return Harness(store, small_pops())
