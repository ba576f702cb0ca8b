"""Fixtures of the placement suite (helpers live in ``placement_checks.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from placement_checks import CASES_FILE


@pytest.fixture(scope="session")
def cases_file() -> Path:
    """The SONATA placement cases file (fails clearly when it is missing)."""
    if not CASES_FILE.is_file():
        pytest.fail(f"SONATA placement cases not found at {CASES_FILE}")
    return CASES_FILE
