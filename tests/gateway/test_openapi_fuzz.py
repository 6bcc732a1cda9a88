"""Schemathesis over the gateway's own OpenAPI document: no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.fake_leader import FakeAgents, FakeLeader

app = create_app(GatewaySettings(leader="fake:1"), leader=FakeLeader(), agents=FakeAgents())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.timeout(600)
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_makes_the_gateway_fail(case):
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
