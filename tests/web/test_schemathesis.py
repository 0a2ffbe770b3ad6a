"""The API against its own OpenAPI document, with schemathesis: generated requests (valid and invalid) to every
operation as an admin with an API token; no 5xx, every response matches its documented schema and status code.

Examples are few and derandomized (the same requests on every run) so it stays fast and reproducible."""

from __future__ import annotations

import os

import pytest

from tests.conftest import POSTGRES_ENV

ON_POSTGRES = bool(os.environ.get(POSTGRES_ENV))
schemathesis = pytest.importorskip("schemathesis", reason="pip install -e '.[test]' (schemathesis)")

from hypothesis import HealthCheck, assume, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from claimbridge.web.auth import create_token  # noqa: E402

CHECKS = (not_a_server_error, response_schema_conformance, status_code_conformance)
# ids are INTEGER columns (32 bits on PostgreSQL); a larger id answers 404 (tested below); the generated requests
# stay inside the column's range so they reach the handlers
ID_MAX = 2**31 - 1


@pytest.fixture
def api_schema(world, app):
    world.denied_claim("enc-004", "CO", "197", ())  # something in the denial queue
    headers = {"Authorization": f"Bearer {create_token(world.store, 'admin', 'schemathesis')}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    schema.config.update(headers=headers)
    # a NUL character in a query parameter is refused with 400 (tested below); generated text stays clear of it
    schema.config.generation.update(allow_x00=False)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_conforms_to_its_openapi_document(case):
    ident = (case.path_parameters or {}).get("id")
    assume(not isinstance(ident, int) or abs(ident) <= ID_MAX)
    case.call_and_validate(checks=CHECKS)


# Found by schemathesis (POST /denials/{id}/resubmit with id 1125899906842623 on PostgreSQL): an id the INTEGER
# column cannot hold used to reach the database and answer 500; it is now not found.
@pytest.mark.parametrize("path", ["/api/v1/denials/{id}/resolve", "/api/v1/denials/{id}/resubmit",
                                  "/api/v1/quarantine/{id}/resolve"])
def test_an_id_too_large_for_the_database_is_not_found(client, token_for, path):
    too_large = 2**31 if ON_POSTGRES else 2**63
    response = client.post(path.format(id=too_large), headers=token_for("admin"),
                           json={"resolution": "appeal", "reason": "x"})
    assert response.status_code == 404, response.get_json()


# Found by schemathesis on PostgreSQL (GET /denials?action=%C3%9B%00I…): a NUL character in a filter used to reach
# PostgreSQL, which refuses it, and answer 500; it is now a 400 before any query.
@pytest.mark.parametrize("query", ["/api/v1/denials?action=a%00b", "/api/v1/claims?status=held%00",
                                   "/api/v1/quarantine?source=demo%00"])
def test_a_nul_character_in_a_filter_is_not_a_server_error(client, token_for, query):
    response = client.get(query, headers=token_for("admin"))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["message"] == "a query parameter holds a NUL character"
