"""Schemathesis against the ASGI app: requests generated from /api/openapi.json, valid and invalid, with a real
token and real data behind it. No server errors, and every answer matches the document (status codes, content
types, headers, bodies); a request the document forbids is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from atlas_app.api.app import build_api
from atlas_app.services.platform import api_tokens
from booking_data import add_offers, add_session, make_catalogue

schema = schemathesis.openapi.from_asgi("/api/openapi.json", build_api())

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance, checks.negative_data_rejection]


@pytest.fixture
def api_auth(org, actor) -> dict[str, str]:
    cat = make_catalogue(org.id)
    add_session(cat, capacity=3)
    add_session(cat, capacity=2, starts_in=timedelta(days=9))
    add_offers(cat, 3)
    return {"Authorization": f"Bearer {api_tokens.create(actor, 'Schema fuzzer').token}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_matches_its_document(case, api_auth):
    case.call_and_validate(headers=api_auth, checks=CHECKS)
