"""``mano up`` and ``mano demo`` announce the Ray dashboard and how to log in to it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import mano
from mano.cli import local_runtime, main
from mano.cli.local_runtime import Dashboard, dashboard, dashboard_from_info, dashboard_info
from mano.errors import ManoError
from paths import EXAMPLES

URL = "127.0.0.1:8265"


def test_no_dashboard_no_announcement():
    assert dashboard("", environ={"RAY_AUTH_MODE": "token"}) is None


def test_the_url_of_this_process_ray_by_default(monkeypatch):
    from mano.cluster import connection
    monkeypatch.setattr(connection, "dashboard_url", lambda: URL)
    assert dashboard(environ={}).url == "http://127.0.0.1:8265"
    monkeypatch.setattr(connection, "dashboard_url", lambda: None)  # include_dashboard=False (MANO_DASHBOARD=0)
    assert dashboard(environ={}) is None


@pytest.mark.parametrize("mode", [None, "disabled", "DISABLED"])
def test_without_token_auth_there_is_no_login(mode, tmp_path):
    environ = {} if mode is None else {"RAY_AUTH_MODE": mode}
    access = dashboard(URL, environ=environ, home=tmp_path)
    assert access == Dashboard("http://127.0.0.1:8265", "no login: Ray token auth is off")


def test_token_auth_points_at_the_default_token_file(tmp_path):
    access = dashboard(URL, environ={"RAY_AUTH_MODE": "token"}, home=tmp_path)
    token_file = tmp_path / ".ray" / "auth_token"
    assert access.url == "http://127.0.0.1:8265" and access.token_file == token_file
    assert access.auth == f"log in with the token in {token_file}; `ray get-auth-token` prints it"


def test_token_auth_follows_ray_token_precedence(tmp_path):
    path = tmp_path / "elsewhere"
    access = dashboard(URL, environ={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(path)}, home=tmp_path)
    assert access.token_file == path and str(path) in access.auth
    secret = "0123456789abcdef"
    access = dashboard("https://ray.example:8443", home=tmp_path,
                       environ={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(path), "RAY_AUTH_TOKEN": secret})
    assert access.url == "https://ray.example:8443"  # a URL with its scheme is kept
    assert access.token_file is None and "$RAY_AUTH_TOKEN" in access.auth
    assert secret not in access.auth  # the hint says where the token is, never the token


def test_runtime_json_round_trip(tmp_path):
    access = dashboard(URL, environ={"RAY_AUTH_MODE": "token"}, home=tmp_path)
    assert dashboard_from_info({"dashboard": dashboard_info(access)}) == access
    assert dashboard_from_info({"dashboard": None}) is None and dashboard_info(None) is None
    assert dashboard_from_info({"ray_address": "x"}) is None  # a runtime.json of an older mano


def _up_info(dashboard_info_):
    return {"ray_address": "127.0.0.1:6379", "mongo_url": "mongodb://127.0.0.1:27017", "pid": 1,
            "dashboard": dashboard_info_}


def test_mano_up_prints_the_dashboard_and_how_to_log_in(monkeypatch, tmp_path):
    token_file = tmp_path / "[docker]" / "auth_token"  # printed literally, not as rich markup
    access = dashboard(URL, environ={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)})
    monkeypatch.setattr(local_runtime, "up", lambda settings, gateway=False, api=False: _up_info(dashboard_info(access)))
    result = CliRunner().invoke(main, ["up"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "runtime up: Ray at 127.0.0.1:6379" in result.output
    assert (f"Ray dashboard: http://127.0.0.1:8265 (log in with the token in {token_file}; "
            "`ray get-auth-token` prints it)") in result.output


def test_mano_up_without_a_dashboard_says_nothing_of_it(monkeypatch):
    monkeypatch.setattr(local_runtime, "up", lambda settings, gateway=False, api=False: _up_info(None))
    result = CliRunner().invoke(main, ["up"], env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "dashboard" not in result.output


def test_mano_demo_prints_the_dashboard_and_how_to_log_in(monkeypatch, tmp_path):
    rt = SimpleNamespace(call=lambda actor, method, *args: [])
    monkeypatch.setattr(local_runtime, "attach_or_start", lambda settings: rt)
    token_file = tmp_path / ".ray" / "auth_token"
    monkeypatch.setattr(local_runtime, "dashboard",
                        lambda: dashboard(URL, environ={"RAY_AUTH_MODE": "token"}, home=tmp_path))

    def instantiate(*args, **kwargs):  # the demo stops here: the announcement came before
        raise ManoError("stopped by the test")
    monkeypatch.setattr(mano, "instantiate", instantiate)
    result = CliRunner().invoke(main, ["demo", str(EXAMPLES / "sonata-demo")], env={"COLUMNS": "400"})
    assert "stopped by the test" in result.output, result.output
    assert (f"Ray dashboard: http://127.0.0.1:8265 (log in with the token in {token_file}; "
            "`ray get-auth-token` prints it)") in result.output
