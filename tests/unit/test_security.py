"""Security review, as tests: safe YAML only, no credentials in code, servers on localhost,
and the gateway's consumers take requests only (a spoofed reply is never acted on)."""
from __future__ import annotations

import re

import pytest

from mano.settings import Settings
import yaml

from mano.descriptors import loader as descriptor_loader
from mano.errors import DescriptorError
from mano.messaging import envelope
from paths import REPO

SOURCES = [p for d in ("mano", "actors", "placement", "ssm") for p in (REPO / d).rglob("*.py")]


def test_sources_are_found():
    assert len(SOURCES) > 50


def test_no_unsafe_yaml_loading():
    unsafe = re.compile(r"yaml\.(unsafe_load|full_load)|Loader\s*=\s*yaml\.(Loader|FullLoader|UnsafeLoader)")
    offenders = [str(p) for p in SOURCES if unsafe.search(p.read_text())]
    assert offenders == []
    # yaml.load is called in three places only, each with a safe loader (libyaml's when present)
    calls = {str(p.relative_to(REPO)): len(re.findall(r"yaml\.load\(", p.read_text())) for p in SOURCES}
    assert {path: n for path, n in calls.items() if n} == {"mano/messaging/envelope.py": 1,
                                                          "mano/descriptors/loader.py": 1,
                                                          "mano/vim/topology.py": 1}
    assert "yaml.load(path.read_text(), Loader=SAFE_LOADER)" in (REPO / "mano/vim/topology.py").read_text()
    for loader in (envelope._Loader, descriptor_loader.SAFE_LOADER):
        assert issubclass(loader, yaml.SafeLoader) or loader in (getattr(yaml, "CSafeLoader", None),)
    with pytest.raises(DescriptorError, match="not valid YAML"):
        descriptor_loader.parse_yaml(b"a: !!python/object/apply:os.system ['true']", "x.yml")


def test_no_credentials_outside_settings():
    pattern = re.compile(r"://[^/\s:@'\"{}]+:(?!\*\*\*)[^@\s'\"]+@")  # *** is redaction
    offenders = [str(p.relative_to(REPO)) for p in SOURCES
                 if pattern.search(p.read_text()) and p.name != "settings.py"]
    assert offenders == [], "credentials belong in mano/settings.py defaults or MANO_* variables"


def test_servers_bind_to_localhost():
    ray_start = (REPO / "mano" / "cluster" / "connection.py").read_text()  # where the embedded Ray starts
    assert 'dashboard_host="127.0.0.1"' in ray_start
    embedded = (REPO / "mano" / "store" / "embedded.py").read_text()
    # Loopback unless the operator asks for an address (MANO_STORE_BIND, issue 16's one store).
    assert 'HOST = "127.0.0.1"' in embedded and "self._bind = settings.store_bind or HOST" in embedded
    assert Settings().store_bind is None


def test_the_gateway_only_acts_on_requests():
    gateway = (REPO / "mano" / "gateway" / "actor.py").read_text()
    northbound = re.search(r"for topic in nb\.NORTHBOUND_TOPICS:(.*?)\n        self\.bus\.subscribe\(f\"\{PM", gateway, re.S)
    assert northbound and 'kind="requests"' in northbound.group(1) and "ignore_own=True" in northbound.group(1)
    place = re.search(r"self\.bus\.subscribe\(placement_topic\.PLACE,(.*?)\)\n", gateway, re.S)
    assert place and 'kind="requests"' in place.group(1) and "ignore_own=True" in place.group(1)
