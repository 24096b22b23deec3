"""Fuzz: schemathesis generates requests from the served OpenAPI spec; none may get a 500,
and every status code must be one the spec documents. Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from server_process import Server, create_key


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"
    key = create_key(db, "admin", "fuzz")  # admin keys may write and read too: requests get past auth
    with Server(db, "--max-body", "65536", "--max-batch", "20") as srv:
        yield srv, key


def test_no_server_error_anywhere(fuzzed):
    srv, key = fuzzed
    api = schemathesis.openapi.from_url(srv.url + "/openapi.json")
    headers = {"X-Write-Key": key, "Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance],
                                   timeout=30)

        check()
    assert "Traceback" not in srv.logs()
