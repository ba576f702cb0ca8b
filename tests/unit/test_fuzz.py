"""Fuzzing the edges: malformed descriptors and AMQP payloads get a specific error, never a crash.

A few hundred cases here; ``bench/fuzz.py`` runs 10,000 and reports the counts.
"""
from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mano.descriptors import load_nsd, load_vnfd
from mano.errors import DescriptorError, MessagingError
from mano.gateway import northbound as nb
from mano.gateway import placement_topic as pt
from mano.gateway.core import Inbound
from mano.lifecycle.sonata_placement import place_request
from mano.messaging.envelope import decode_body
from paths import EXAMPLES, SONATA
from sonata_place_requests import case, request_of

VNFD = yaml.safe_load((EXAMPLES / "sonata-demo" / "firewall-vnfd.yml").read_text())
NSD = yaml.safe_load((SONATA / "placement" / "nsd_10.yml").read_text())
PLACEMENT_REQUEST = request_of(case(12))[0]  # mano.service.place, as SONATA's SLM writes it

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=10)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, base):
    doc = copy.deepcopy(base)
    paths = list(_paths(doc))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        node = doc
        try:
            for key in path[:-1]:
                node = node[key]
            if draw(st.booleans()):
                node[path[-1]] = draw(values)
            else:
                del node[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return doc


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated(VNFD))
def test_mutated_vnfds_load_or_fail_precisely(doc):
    try:
        load_vnfd(doc)
    except DescriptorError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


@FUZZ
@given(mutated(NSD))
def test_mutated_nsds_load_or_fail_precisely(doc):
    try:
        load_nsd(doc)
    except DescriptorError as exc:
        assert exc.problems


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_refused_by_the_codec_with_a_reason(raw):
    try:
        body = decode_body(raw, max_bytes=1000)
    except MessagingError as exc:
        assert str(exc)
    else:
        assert body is None or isinstance(body, dict)


@FUZZ
@given(st.sampled_from(nb.NORTHBOUND_TOPICS), values)
def test_any_northbound_body_parses_or_gets_an_error_text(topic, body):
    try:
        request = nb.parse(topic, body, lambda sid: {})
    except nb.GatewayRequestError as exc:
        assert str(exc)
    else:
        assert request.op_type is not None


@FUZZ
@given(mutated(PLACEMENT_REQUEST))
def test_any_mutated_placement_request_gets_a_mapping_or_an_error_text(body):
    reply = pt.answer(Inbound(pt.PLACE, body, "corr"), place_request)
    if reply["error"] is None:
        assert set(reply["mapping"]["du"]) == {f["id"] for f in body["functions"]}
    else:
        assert isinstance(reply["error"], str) and reply["error"] and reply["mapping"] == {}
