"""Fixtures shared by the whole suite.

The SONATA fixtures live in ``shared/fixtures/sonata`` beside the repository (CI clones main
with shared/ next to it); ``MANO_SHARED`` points elsewhere if needed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MANO_SHARED", REPO.parent / "shared"))
SONATA = SHARED / "fixtures" / "sonata"
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def sonata_fixtures() -> Path:
    if not SONATA.is_dir():
        pytest.fail(f"SONATA fixtures not found at {SONATA}; set MANO_SHARED to the shared/ folder")
    return SONATA


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return EXAMPLES / "sonata-demo"
