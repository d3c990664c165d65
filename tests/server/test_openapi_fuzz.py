"""Every operation of `/openapi.json`, fed generated input by schemathesis: never a 5xx, and
every answer matches the schema the server publishes (both stores)."""

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from plaudit.server.app import create_app
from plaudit.server.openapi import complete
from plaudit.settings import Settings
from tests.conftest import LiveServer

# The document the server publishes, made without serving: operations are known at collection.
SCHEMA = schemathesis.openapi.from_dict(complete(create_app(Settings()).openapi_schema.to_schema()))
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_server_error_and_no_answer_off_the_schema(label: str, live_server: LiveServer) -> None:
    operation = OPERATIONS[label]
    headers = {"authorization": f"Bearer {live_server.admin_token}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def answers_within_the_schema(case: Any) -> None:
        case.call_and_validate(
            base_url=live_server.url,
            headers=headers,
            checks=[schemathesis.checks.not_a_server_error, response_schema_conformance],
        )

    answers_within_the_schema()
