"""The CLI against a background runtime: ``mano up``, commands that attach to it, ``mano down``."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request

import pytest

from paths import EXAMPLES, REPO, console_script

pytestmark = pytest.mark.integration


def test_up_instantiate_ls_terminate_down(tmp_path):
    mano_cli = console_script("mano")
    assert mano_cli, "the mano console command is installed by pip install -e ."
    with socket.socket() as s:  # a free port for the HTTP API
        s.bind(("127.0.0.1", 0))
        api_addr = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "MANO_HOME": str(tmp_path), "MANO_DASHBOARD": "0", "COLUMNS": "200",
           "MANO_MONITORING_PERIOD_S": "0", "MANO_API_ADDR": api_addr}
    env.pop("MANO_MONGO_URL", None)

    def run(*args, timeout=180, **extra_env):
        return subprocess.run([mano_cli, *args], env={**env, **extra_env}, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout)
    no_ray = tmp_path / "no-ray"  # an `import ray` that fails: what answers without Ray, answers
    (no_ray / "ray").mkdir(parents=True)
    (no_ray / "ray" / "__init__.py").write_text("raise ImportError('this command must not start Ray')\n")
    without_ray = {"PYTHONPATH": os.pathsep.join([str(no_ray), env.get("PYTHONPATH", "")])}
    try:
        up = run("up", "--api")
        assert up.returncode == 0, up.stderr[-2000:]
        assert (tmp_path / "runtime.json").exists()
        assert f"SOL005 API at http://{api_addr}/nslcm/v1" in up.stdout
        made = run("instantiate", str(EXAMPLES / "sonata-demo"), "--json")
        assert made.returncode == 0, made.stderr[-2000:]
        service = json.loads(made.stdout)["service"]
        assert service["state"] == "READY"
        with urllib.request.urlopen(f"http://{api_addr}/nslcm/v1/ns_instances/{service['id']}", timeout=30) as got:
            assert json.loads(got.read())["nsState"] == "INSTANTIATED"  # the daemon serves the API
        listed = run("ls", "--json")  # a second command finds the service the first one made
        assert [s["id"] for s in json.loads(listed.stdout)] == [service["id"]]
        # ls, ops and op show read through the daemon's HTTP API, without a Ray driver
        fast = run("ls", "--json", **without_ray)
        assert fast.returncode == 0, fast.stderr[-2000:]
        assert json.loads(fast.stdout) == json.loads(listed.stdout)
        assert [s["id"] for s in json.loads(run("ls", "--json", "--state", "READY", **without_ray).stdout)] == \
            [service["id"]]
        history = run("ops", service["id"], "--json", **without_ray)
        assert [o["type"] for o in json.loads(history.stdout)] == ["instantiate"], history.stderr[-2000:]
        nope = run("ops", "no-such-service", **without_ray)
        assert nope.returncode == 1 and "no service instance 'no-such-service'" in nope.stderr
        configured = run("reconfigure", service["id"], "--env", "FW_POLICY=drop", "--vnf", "vnf_firewall")
        assert configured.returncode == 0, configured.stderr[-2000:]
        bad = run("reconfigure", service["id"], "--env", "BAD NAME=x")  # refused before anything runs
        assert bad.returncode == 1 and "'BAD NAME' is not an environment variable name" in bad.stderr
        assert run("reconfigure", service["id"]).returncode == 2  # nothing to give
        assert run("terminate", service["id"]).returncode == 0
        ops = json.loads(run("ops", service["id"], "--json").stdout)
        assert [(o["type"], o["state"]) for o in ops] == [("instantiate", "COMPLETED"), ("reconfigure", "COMPLETED"),
                                                          ("terminate", "COMPLETED")]
        assert ops[1]["steps"][0]["result"]["envs"] and all(
            e == {"FW_POLICY": "drop"} for e in ops[1]["steps"][0]["result"]["envs"].values())
        first = ops[0]["id"]
        shown = json.loads(run("op", "show", first, "--json").stdout)
        assert (shown["id"], shown["state"], shown["retries"]) == (first, "COMPLETED", 0)
        refused = run("op", "retry", first)  # the operator's retry is for a FAILED_TEMP operation only
        assert refused.returncode == 1 and f"operation {first} is COMPLETED: only a FAILED_TEMP" in refused.stderr
        ended = run("op", "cancel", first)  # a cancel is for a PROCESSING operation only
        assert ended.returncode == 1 and f"operation {first} is COMPLETED: only a PROCESSING" in ended.stderr
        unknown = run("op", "rollback", "no-such-op")
        assert unknown.returncode == 1 and "no operation 'no-such-op'" in unknown.stderr
        missing = run("show", "no-such-service")
        assert missing.returncode == 1 and "no service instance 'no-such-service'" in missing.stderr
    finally:
        down = run("down")
    assert down.returncode == 0
    assert not (tmp_path / "runtime.json").exists()
