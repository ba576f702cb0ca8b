"""The README's main job, as a user runs it: ``mano demo`` on embedded defaults.

It runs from a plain (not editable) install of the repository, in a directory outside it, so
the demo service must come with the package and nothing may be read from the source tree.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paths import REPO

pytestmark = pytest.mark.integration


def test_a_plain_install_runs_the_packaged_demo_from_any_directory(tmp_path):
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                              str(REPO)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert sorted(p.name for p in (site / "mano" / "data" / "sonata-demo").iterdir()) == [
        "firewall-vnfd.yml", "iperf-vnfd.yml", "sonata-demo-nsd.yml", "tcpdump-vnfd.yml"]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "MANO_HOME": str(tmp_path / "home"), "MANO_DASHBOARD": "0",
           "COLUMNS": "200"}
    env.pop("MANO_MONGO_URL", None)
    where = subprocess.run(
        [sys.executable, "-c", "import actors, mano, placement, ssm; "
                               "print('\\n'.join(m.__file__ for m in (actors, mano, placement, ssm)))"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr[-2000:]
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout  # not the source tree

    result = subprocess.run([sys.executable, "-m", "mano", "demo"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = result.stdout
    assert "sonata-demo" in out and "READY" in out and "NSR status: terminated" in out
    assert out.count("COMPLETED") >= 4  # instantiate, scale out, scale in, terminate
