"""Every bad request gets the documented 4xx, in OpenAI's error shape (docs/gateway.md)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from tests.gateway.conftest import send
from tests.gateway.fake_leader import FakeAgents, FakeLeader

OK = {"model": "conclave-vote", "messages": [{"role": "user", "content": "hi"}]}


def body(**changes):
    payload = {**OK, **changes}
    return {k: v for k, v in payload.items() if v is not ...}


@pytest.fixture(scope="module")
def client():
    app = create_app(
        GatewaySettings(leader="fake:1", max_messages=50), leader=FakeLeader(), agents=FakeAgents()
    )
    with TestClient(app) as test_client:
        yield test_client


CHAT = "/v1/chat/completions"
CASES = [
    # (name, method, path, json body or raw bytes, expected status)
    ("malformed json", "POST", CHAT, b'{"model": "conclave-vote", "messages": [', 400),
    ("body is a list", "POST", CHAT, b"[1, 2]", 400),
    ("missing model", "POST", CHAT, body(model=...), 400),
    ("model not a string", "POST", CHAT, body(model=7), 400),
    ("unknown model", "POST", CHAT, body(model="gpt-4o"), 404),
    ("unknown participant", "POST", CHAT, body(model="agent/nobody"), 404),
    ("missing messages", "POST", CHAT, body(messages=...), 400),
    ("empty messages", "POST", CHAT, body(messages=[]), 400),
    ("messages not a list", "POST", CHAT, body(messages="hi"), 400),
    ("message without role", "POST", CHAT, body(messages=[{"content": "hi"}]), 400),
    ("unknown role", "POST", CHAT, body(messages=[{"role": "robot", "content": "hi"}]), 400),
    ("content not text", "POST", CHAT, body(messages=[{"role": "user", "content": 5}]), 400),
    ("only blank content", "POST", CHAT, body(messages=[{"role": "user", "content": " "}]), 400),
    (
        "too many messages",
        "POST",
        CHAT,
        body(messages=[{"role": "user", "content": "x"}] * 51),
        400,
    ),
    ("negative max_tokens", "POST", CHAT, body(max_tokens=-1), 400),
    ("zero max_tokens", "POST", CHAT, body(max_tokens=0), 400),
    ("huge max_tokens", "POST", CHAT, body(max_tokens=10**9), 400),
    ("max_tokens as text", "POST", CHAT, body(max_tokens="10"), 400),
    ("negative max_completion_tokens", "POST", CHAT, body(max_completion_tokens=-5), 400),
    ("temperature too high", "POST", CHAT, body(temperature=5), 400),
    ("temperature as text", "POST", CHAT, body(temperature="hot"), 400),
    ("top_p zero", "POST", CHAT, body(top_p=0), 400),
    ("n zero", "POST", CHAT, body(n=0), 400),
    ("n too large", "POST", CHAT, body(n=100), 400),
    ("negative seed", "POST", CHAT, body(seed=-1), 400),
    ("too many stop strings", "POST", CHAT, body(stop=[str(i) for i in range(20)]), 400),
    ("stop not text", "POST", CHAT, body(stop=3), 400),
    ("stream not a boolean", "POST", CHAT, body(stream="yes"), 400),
    ("unknown conclave option", "POST", CHAT, body(conclave={"strategy_x": 1}), 400),
    ("conclave samples zero", "POST", CHAT, body(conclave={"samples_per_participant": 0}), 400),
    (
        "oversize body",
        "POST",
        CHAT,
        body(messages=[{"role": "user", "content": "x" * 1_100_000}]),
        413,
    ),
    ("completion without prompt", "POST", "/v1/completions", {"model": "conclave-vote"}, 400),
    ("embeddings without input", "POST", "/v1/embeddings", {"model": "agent/alpha"}, 400),
    ("embeddings of nothing", "POST", "/v1/embeddings", {"model": "agent/alpha", "input": []}, 400),
    (
        "embeddings of an unknown model",
        "POST",
        "/v1/embeddings",
        {"model": "ada", "input": "x"},
        404,
    ),
    ("rounds page of zero", "GET", "/v1/rounds?limit=0", None, 400),
    ("rounds page too big", "GET", "/v1/rounds?limit=1000", None, 400),
    ("rounds tag without =", "GET", "/v1/rounds?tag=oops", None, 400),
    ("unknown round", "GET", "/v1/rounds/nope", None, 404),
    ("unknown path", "GET", "/v1/nothing-here", None, 404),
    ("wrong method", "GET", CHAT, None, 405),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "payload", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_request_gets_its_documented_status(client, name, method, path, payload, status):
    response = send(client, path, payload, method)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"] and error["type"]


def test_there_are_at_least_25_cases():
    assert len(CASES) >= 25


def test_a_good_request_still_works(client):
    response = client.post(CHAT, json=OK)
    assert response.status_code == 200
    assert response.headers["x-conclave-round-id"] == "r1"
    assert response.json()["choices"][0]["message"]["content"] == "answer 0"


def test_validation_errors_name_the_parameter(client):
    error = client.post(CHAT, json=body(temperature=5)).json()["error"]
    assert error["param"] == "temperature"
    assert "temperature" in error["message"]


def test_streamed_vote_ends_with_done(client):
    response = client.post(CHAT, json=body(stream=True))
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0][6:])["choices"][0]["delta"]["content"] == "answer 0"


class BrokenLeader(FakeLeader):
    """A leader client with a bug: what the gateway does with an unexpected error."""

    async def list_rounds(self, **filters):
        raise RuntimeError("a bug, not a domain error")


def test_an_unexpected_error_is_a_500_that_metrics_count():
    app = create_app(GatewaySettings(leader="fake:1"), leader=BrokenLeader(), agents=FakeAgents())
    with TestClient(app, raise_server_exceptions=False) as broken:
        reply = broken.get("/v1/rounds")
        assert reply.status_code == 500
        assert reply.json()["error"]["message"] == "internal error; see the gateway log"
        metrics = broken.get("/metrics").text
    assert 'conclave_gateway_errors_total{code="500"} 1.0' in metrics
    assert 'conclave_gateway_requests_total{route="/v1/rounds",status="500"} 1.0' in metrics
