"""Requests generated from the SOL005 API's own OpenAPI document (schemathesis, on hypothesis)
against the API served on the session runtime over real HTTP: whatever the path parameters,
query and body, no answer is a 5xx and every error is a ProblemDetails."""
from __future__ import annotations

import pytest

from rest_client import api_client

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")
pytestmark = pytest.mark.integration

from hypothesis import HealthCheck, settings  # noqa: E402


@pytest.fixture(scope="module")
def served(rt):
    with api_client(rt) as client:
        yield str(client.base_url)


def test_generated_requests_get_no_5xx(served):
    from hypothesis import given
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        def check(case):
            response = case.call(base_url=served, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                problem = response.json()
                kind = response.headers["content-type"]  # schemathesis: a header's values, as a list
                assert (kind[0] if isinstance(kind, list) else kind).startswith("application/problem+json"), kind
                assert problem["status"] == response.status_code and problem["detail"], problem
        check()
        tried.append(f"{operation.method.upper()} {operation.path}")
    # the document lists every resource: the lifecycle tasks and the subscriptions among them
    assert "POST /nslcm/v1/ns_instances/{ns_instance_id}/instantiate" in tried
    assert "POST /nslcm/v1/subscriptions" in tried and len(tried) >= 20, tried
