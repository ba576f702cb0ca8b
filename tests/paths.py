"""Where the suite finds its data: the SONATA fixtures in tests/data/sonata, and examples/.

Everything the suite reads lives inside the repository (a clone alone runs every test).
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
SONATA = DATA / "sonata"
EXAMPLES = REPO / "examples"


def console_script(name: str) -> str | None:
    """The installed console command ``name`` of this interpreter's environment (then PATH's).

    Looked up beside ``sys.executable`` first: a virtual environment used without activating
    it (``make test PYTHON=venv/bin/python``) has its commands there, not on PATH.
    """
    import shutil
    import sys

    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)
