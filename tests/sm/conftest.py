"""Fixtures of the specific-manager tests: the in-process port on a fresh store."""
from __future__ import annotations

import pytest
from sm_helpers import PYTHON_PATH

from mano.sm.config import SmrConfig
from mano.sm.local import LocalSpecificManagers


@pytest.fixture
def sm_config() -> SmrConfig:
    return SmrConfig(python_path=PYTHON_PATH, reconcile_period_s=0, orphan_grace_s=0, start_timeout_s=10)


@pytest.fixture
def local(store, sm_config) -> LocalSpecificManagers:
    """The in-process port (no Ray, no Docker) on this test's database."""
    return LocalSpecificManagers(store, sm_config)
