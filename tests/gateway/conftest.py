"""Fixtures for the gateway's doors against a stand-in leader."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.fake_leader import FailingLeader, FakeAgents, FakeLeader
from tests.support.servers import RunningGateway

DOOR_KEY = "door-key"


def send(client: TestClient, path: str, payload, method: str = "POST"):
    """A request whose body is `payload` as JSON, or as the bytes given (malformed JSON)."""
    if isinstance(payload, bytes):
        return client.request(
            method, path, content=payload, headers={"Content-Type": "application/json"}
        )
    return client.request(method, path, json=payload)


@pytest.fixture(scope="module")
def door_client():
    """The app over the stand-in leader, behind an API key the client sends."""
    app = create_app(
        GatewaySettings(leader="fake:1", max_messages=50, api_key=DOOR_KEY),
        leader=FakeLeader(),
        agents=FakeAgents(),
    )
    with TestClient(app, headers={"x-api-key": DOOR_KEY}) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def failing_gateway():
    """A served gateway whose rounds fail after their first text: errors go in-band."""
    settings = GatewaySettings(host="127.0.0.1", port=0, leader="fake:1", keepalive_s=0.05)
    app = create_app(settings, leader=FailingLeader(), agents=FakeAgents())
    with RunningGateway(settings, app=app) as running:
        yield running


@pytest.fixture
def spying_client():
    """A fresh app and the stand-in leader it asks, to see the round requests."""
    leader = FakeLeader()
    app = create_app(GatewaySettings(leader="fake:1"), leader=leader, agents=FakeAgents())
    with TestClient(app) as test_client:
        yield test_client, leader
