"""Joining a Ray cluster, the parts that need no cluster: which token Ray would send, what an
address is, and how an unreachable one is reported (tests/runtime/test_cluster_attach.py
joins real ones)."""
from __future__ import annotations

import socket
import time

import pytest

from mano.cluster.address import check_reachable, host_port, token_source
from mano.errors import ClusterError, ClusterUnreachableError


def test_the_token_comes_from_where_ray_reads_it_first(tmp_path):
    default = tmp_path / ".ray" / "auth_token"
    elsewhere = tmp_path / "token"
    assert token_source({}, home=tmp_path) is None
    default.parent.mkdir()
    default.write_text("t")
    assert token_source({}, home=tmp_path) == str(default)
    assert token_source({"RAY_AUTH_TOKEN_PATH": str(elsewhere)}, home=tmp_path) is None  # named, but missing
    elsewhere.write_text("t")
    assert token_source({"RAY_AUTH_TOKEN_PATH": str(elsewhere)}, home=tmp_path) == str(elsewhere)
    assert token_source({"RAY_AUTH_TOKEN": "secret", "RAY_AUTH_TOKEN_PATH": str(elsewhere)},
                        home=tmp_path) == "$RAY_AUTH_TOKEN"  # where it is, never the token


@pytest.mark.parametrize("address, expected", [
    ("127.0.0.1:6380", ("127.0.0.1", 6380)),
    ("head.example:6379", ("head.example", 6379)),
    ("[::1]:6379", ("::1", 6379)),
    ("ray://head.example:10001", ("head.example", 10001)),
    ("auto", None),
])
def test_addresses(address, expected):
    assert host_port(address) == expected


@pytest.mark.parametrize("address", ["head.example", "head.example:port"])
def test_an_address_without_a_port_is_refused_before_anything_is_tried(address):
    with pytest.raises(ClusterError, match="is not HOST:PORT"):
        host_port(address)


def test_a_closed_port_is_unreachable_at_once():
    with socket.socket() as s:  # a port that was free a moment ago, and nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ClusterUnreachableError, match=f"the Ray cluster at 127.0.0.1:{port} is unreachable: "
                                                      f"connection refused by 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}", "127.0.0.1", port)
    assert time.monotonic() - started < 1.0
