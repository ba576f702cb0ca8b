"""The README's main job, as a user runs it: ``python -m mano demo`` on embedded defaults."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paths import EXAMPLES, REPO

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end(tmp_path):
    env = {**os.environ, "MANO_HOME": str(tmp_path), "MANO_DASHBOARD": "0", "COLUMNS": "200"}
    env.pop("MANO_MONGO_URL", None)
    result = subprocess.run([sys.executable, "-m", "mano", "demo", str(EXAMPLES / "sonata-demo")], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "READY" in out and "NSR status: terminated" in out
    assert out.count("COMPLETED") >= 4  # instantiate, scale out, scale in, terminate
