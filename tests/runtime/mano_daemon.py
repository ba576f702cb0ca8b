"""A ``mano up`` daemon of a test's own, run through the ``mano`` console script as an operator would."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import psutil

from paths import REPO, console_script


def mano(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([console_script("mano"), *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def mano_env(base: dict[str, str], home, mongo_url: str | None = None, **extra: str) -> dict[str, str]:
    """``base`` without its MANO_ variables, a home of the test's own, no dashboard, no monitoring."""
    env = {k: v for k, v in base.items() if not k.startswith("MANO_")}
    env.update({"MANO_HOME": str(home), "MANO_DASHBOARD": "0", "MANO_MONITORING_PERIOD_S": "0", "COLUMNS": "200"})
    if mongo_url:
        env.update({"MANO_MONGO_URL": mongo_url, "MANO_MONGO_DB": f"attach{uuid.uuid4().hex[:8]}"})
    env.update(extra)
    return env


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def gone_wait(pid: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@contextlib.contextmanager
def daemon(*up_args: str, env: dict[str, str], timeout: float = 180) -> Iterator[dict]:
    """``mano up <up_args>``; yields its home, env and ``runtime.json``; then ``mano down``, and a
    kill of its process group if that could not reach it."""
    up = mano("up", *up_args, env=env, timeout=timeout)
    assert up.returncode == 0, up.stderr[-3000:]
    home = Path(env["MANO_HOME"])
    info = json.loads((home / "runtime.json").read_text())
    try:
        yield {"home": home, "env": env, "info": info}
    finally:
        mano("down", env=env, timeout=timeout)
        if not gone_wait(info["pid"], timeout=5):
            os.killpg(info["pid"], signal.SIGKILL)
