"""The dashboard mano announces serves Ray's dashboard, and the token it points at logs in.

A Ray of its own in a subprocess (the session's runtime has no dashboard): started as mano
starts it (``actors.runtime.init_ray``, token auth left to Ray's default), announced by
``local_runtime.dashboard()``, then asked over HTTP as a script and as a browser would.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from paths import REPO

pytestmark = pytest.mark.integration

SCRIPT = r"""
import json, time, urllib.error, urllib.request
import ray
from actors import runtime
from mano.cli import local_runtime
from mano.settings import Settings

runtime.init_ray(Settings(dashboard=True))
access = local_runtime.dashboard()
token = access.token_file.read_text().strip()

def ask(path, method="GET", **headers):
    request = urllib.request.Request(access.url + path, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get_all("Set-Cookie") or [], response.read(300).decode()
    except urllib.error.HTTPError as exc:
        return exc.code, [], exc.read(300).decode()
    except OSError as exc:
        return None, [], str(exc)

deadline = time.monotonic() + 30
while ask("/api/gcs_healthz")[0] != 200 and time.monotonic() < deadline:
    time.sleep(0.5)
bearer = {"Authorization": "Bearer " + token}
out = {"url": access.url, "auth": access.auth, "token_file": str(access.token_file),
       "index": ask("/")[0], "mode": ask("/api/authentication_mode")[2],
       "anonymous": ask("/api/version")[0], "bearer": ask("/api/version", **bearer)[0],
       "wrong": ask("/api/version", Authorization="Bearer " + "0" * 64)[0],
       "login": ask("/api/authenticate", method="POST", **bearer)[:2],
       "cookie": ask("/api/version", Cookie="ray-authentication-token=" + token)[0]}
ray.shutdown()
print("RESULT " + json.dumps(out))
"""


def test_the_announced_dashboard_opens_with_the_announced_token(tmp_path):
    token_file = tmp_path / "auth_token"  # not the user's ~/.ray/auth_token
    token_file.write_text(secrets.token_hex(32))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_ADDRESS")}
    env["RAY_AUTH_TOKEN_PATH"] = str(token_file)
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout[-2000:] + result.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["url"].startswith("http://127.0.0.1:")  # localhost only (dashboard_host)
    assert out["token_file"] == str(token_file) and str(token_file) in out["auth"]
    assert json.loads(out["mode"]) == {"authentication_mode": "token"}  # Ray's default for a new local cluster
    assert out["index"] == 200  # the page that asks for the token
    assert out["anonymous"] == 401 and out["wrong"] == 403
    assert out["bearer"] == 200  # scripts: Authorization: Bearer <token>
    status, cookies = out["login"]  # the browser: the token once, then a cookie
    assert status == 200 and any(c.startswith("ray-authentication-token=") for c in cookies)
    assert out["cookie"] == 200
