"""The whole /api/v1/ schema through schemathesis' stateless fuzzing, once per role.

For each operation and role, schemathesis generates requests from the OpenAPI schema (valid
ones, and invalid ones that the API must refuse) and sends them to the real WSGI application
against the test database, with a real trained model active: `?wait=true` submissions are
scored, explained and decided within the request. Every answer must be other than a 5xx
and conform to the schema: a documented status, content type, headers and body. The
examples are deterministic (hypothesis derandomized, no example database), generated once
and sent under each role, and the budget keeps the run within CI's three minutes.
"""

from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from knox.models import AuthToken
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import DecisionFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

#: Examples per operation, role and mode (valid, invalid); CI's budget allows this many.
EXAMPLES = int(os.environ.get("CREDSCOPE_FUZZ_EXAMPLES", "30"))
# No 5xx, and every answer as documented; schema-invalid input must be refused. (Not
# "schema-valid input is accepted": cross-field rules such as date_from <= date_to or ordered
# policy thresholds are the API's to enforce with a 400 and have no OpenAPI form.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
ROLES = {"officer": "loan_officer", "compliance": "compliance", "model_admin": "model_admin"}


@pytest.fixture
def api_schema(db):
    """The schema as the running application serves it, and that application to call.

    Like Django's test client, the WSGI handler must not close the test's database connection
    at the end of each request (the test's transaction holds the data)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


#: The requests generated for each operation and mode, sent again under every role: the
#: examples are derandomized, so each role was sent the same ones, and generating them (with
#: schemathesis' filtering of invalid and valid-after-all cases) took most of the time.
_generated: dict[tuple[str, str], list[Case] | None] = {}


def _cases(operation, mode: GenerationMode) -> list[Case] | None:
    """The operation's generated requests in this mode (copies to send), or None when the
    operation has no input to make invalid (GET /models/ takes none)."""
    key = (operation.label, mode.value)
    if key not in _generated:
        cases: list[Case] = []

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES,
            derandomize=True,  # the same examples on every run
            database=None,
            deadline=None,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def collect(case: Case) -> None:
            cases.append(case)

        try:
            collect()
            _generated[key] = cases
        except hypothesis.errors.Unsatisfiable:
            _generated[key] = None
    cases = _generated[key]
    return None if cases is None else [case.derive() for case in cases]


@pytest.mark.parametrize("persona", list(ROLES))
def test_the_api_answers_every_generated_request_as_documented(
    api_schema, persona, trained_model
) -> None:
    user = UserFactory(username=persona, roles=[ROLES[persona]])
    DecisionFactory(application__created_by=user)  # something of theirs to find
    _, token = AuthToken.objects.create(user=user)
    headers = {"Authorization": f"Token {token}"}
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cache.clear()  # throttles count per test; fuzzing is not a load test
            for case in _cases(operation, mode) or []:
                try:
                    case.call_and_validate(headers=headers, checks=CHECKS)
                except (Exception, BaseExceptionGroup) as error:  # report every operation's
                    failures.append(f"{operation.label} [{mode.value}]: {error}")
                    break  # its first failure, as hypothesis stopped at
    assert not failures, "\n\n".join(failures)
