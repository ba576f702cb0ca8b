"""The layering contracts of pyproject.toml hold (import-linter): the pure core imports no Ray,
pika or docker, and only the store imports pymongo."""
from __future__ import annotations

import subprocess

from paths import REPO, console_script


def test_import_contracts_are_kept():
    exe = console_script("lint-imports")
    assert exe, "import-linter is a test dependency (pip install -e '.[test]')"
    result = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
