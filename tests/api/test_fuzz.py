"""Fuzz the REST API from its own OpenAPI document with schemathesis, against a real server.

Every operation of the live ``/api/openapi.json`` gets a few derandomized examples, valid and
invalid; each response must not be a 5xx, must use a documented status code and content type,
and its body must match the documented schema. Bounded and deterministic: few examples per
operation, ``derandomize=True``, no example database, no deadline, no shrinking.

Schemathesis' lazy pytest integration (``from_fixture``) does not work with this pytest, so the
test drives each operation's Hypothesis strategy itself, all against one server, and reports
every operation that failed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.support.server import DikteServer

pytestmark = pytest.mark.timeout(300)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 15, GenerationMode.NEGATIVE: 8}
# A large id no real token has: an example aimed at the admin's own token revokes this instead,
# so the bearer token every example sends keeps working.
FOREIGN_TOKEN_ID = 987_654_321
# Not fuzzed yet: src/dikte/api/admin.py (being written) answers 404 for an unknown runtime
# without documenting it; its router needs ``responses=error_responses(*COMMON_ERRORS)``.
SKIPPED: set[str] = set()  # operations not fuzzed (none)


def test_api_conforms_to_its_openapi_document(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server().start()
    headers = {"Authorization": f"Bearer {srv.token}"}
    own_tokens = {t["id"] for t in srv.client().get("/api/tokens")}
    schema = schemathesis.openapi.from_url(f"{srv.url}/api/openapi.json", timeout=30)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        if result.ok().label not in SKIPPED:
            operations.append(result.ok())
    assert len(operations) > 30

    def guard(case: schemathesis.Case[Any]) -> None:
        params = case.path_parameters
        if (case.method.upper() == "DELETE" and case.path == "/api/tokens/{token_id}"
                and params and params.get("token_id") in own_tokens):
            params["token_id"] = FOREIGN_TOKEN_ID

    failures: list[str] = []
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case[Any]) -> None:
                guard(case)
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing in it can be made invalid
            except (Exception, BaseExceptionGroup) as exc:  # reported all at once, below
                failures.append(f"{operation.label} [{mode.value}]: {_describe(exc)}")
    assert srv.client().get("/api/me")["is_admin"]  # the admin's bearer token still works
    assert not failures, "\n\n".join(failures)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return text[:3000]
