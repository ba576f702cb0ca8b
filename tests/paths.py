"""Where the suite finds its data: the SONATA fixtures in tests/data/sonata, and examples/.

Everything the suite reads lives inside the repository (a clone alone runs every test).
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SONATA = DATA / "sonata"
EXAMPLES = REPO / "examples"
