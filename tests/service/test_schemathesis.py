"""Schemathesis against each service, from the service's own OpenAPI document (issue 7, "Bad input"):
generated requests, valid and invalid against the schemas, never get a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from services.meetings.service import MeetingsService
from services.members.service import MembersService
from services.reporting.service import ReportingService
from services.runner import EmbeddedPlatform, embedded_config
from shared import openapi
from tests.conftest import free_port
from tests.service.test_embedded_platform import reset_memory_broker

members = schemathesis.openapi.from_dict(openapi.document(MembersService, title="members"))
meetings = schemathesis.openapi.from_dict(openapi.document(MeetingsService, title="meetings"))
reporting = schemathesis.openapi.from_dict(openapi.document(ReportingService, title="reporting"))
FEW = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    reset_memory_broker()
    p = EmbeddedPlatform(embedded_config(tmp_path_factory.mktemp("st") / "var", port=free_port())).start()
    yield p.base_url, {"Authorization": f"Bearer {p.api_key('schemathesis')}"}
    p.stop()
    reset_memory_broker()


def call(case, base_url):
    base_url, auth = base_url
    case.headers = {**(case.headers or {}), **auth}  # a machine key: the generated requests reach the handlers
    if case.path.endswith(".xlsx") or "/exports/" in case.path:
        case.headers["Accept"] = "*/*"
    response = case.call(base_url=base_url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])


@members.parametrize()
@FEW
def test_members_api(case, base_url):
    call(case, base_url)


@meetings.parametrize()
@FEW
def test_meetings_api(case, base_url):
    call(case, base_url)


@reporting.parametrize()
@FEW
def test_reporting_api(case, base_url):
    call(case, base_url)
