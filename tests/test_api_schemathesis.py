"""Schemathesis against the API, in process (WSGI), driven by the OpenAPI document it serves.

For every operation it generates requests that fit the document and requests that do not, sends
them with a real token (the app is the test app, on the test database) and fails on any 500, any
status the document does not list for the operation, and any body, content type or required
header that does not match the document. Bounded: a fixed number of examples per operation,
derandomized so a run is repeatable.
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.core.failures import FailureGroup, ServerError
from werkzeug.exceptions import InternalServerError

from community.api import openapi, serializers
from community.api.bodies import EXAMPLE_PAGE
from tests.test_api import OTHER_DOC, new_token

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.missing_required_header,
    checks.unsupported_method,
    checks.ignored_auth,
]


@pytest.fixture
def world(app: Flask, make) -> None:
    """A few real threads, so that generated ids and page addresses sometimes hit real rows."""
    asker, helper = make.user(), make.user()
    for url in (EXAMPLE_PAGE, OTHER_DOC):  # the document's example page among them
        question = make.question(asker, page_url=url)
        make.reply(question, helper)


@pytest.fixture
def token(app: Flask, make) -> str:
    return new_token(app, make.user(name="Fuzz"), "schemathesis")


# The document the app serves at /api/v1/openapi.json (it depends on the code only, not on the
# app's configuration). Loaded at import rather than from the app fixture because
# schemathesis.pytest.from_fixture reaches into a private attribute that pytest 9 no longer has.
schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi.document()))


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_document(case, app, world, token):
    # This test's app (a new one per test): for the case and for the probes some checks send.
    case.operation.app = case.operation.schema.app = app
    # Schemathesis asks for gzip like requests does, but its WSGI transport does not undo a
    # content coding as an HTTP client would; the gzip answers are tested in test_snapshots.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"},
        checks=CHECKS,
    )


@pytest.mark.parametrize("bug", [InternalServerError, RuntimeError])
def test_a_server_error_fails_the_run(app, make, token, monkeypatch, bug):
    """The control for the run above: a route that answers 500 (or raises) fails it."""
    question = make.question(make.user(), page_url=OTHER_DOC)

    def broken(*_args, **_kwargs):
        raise bug("a bug")

    monkeypatch.setattr(serializers, "thread", broken)
    case = schema["/questions/{question_id}"]["GET"].Case(path_parameters={"question_id": question})
    case.operation.app = case.operation.schema.app = app
    # A 500 response is a schemathesis FailureGroup (a BaseExceptionGroup of failures); an
    # exception in the app comes through as it is.
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    except (FailureGroup, RuntimeError) as error:
        failure = error
    else:
        pytest.fail("schemathesis passed a route that answers 500")
    if bug is InternalServerError:
        assert isinstance(failure, FailureGroup)
        assert any(isinstance(inner, ServerError) for inner in failure.exceptions)
    else:
        assert isinstance(failure, RuntimeError)
