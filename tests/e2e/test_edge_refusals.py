"""Refusals that come before any work, on the real stack: a chunked body over the cap
is a 413 (it was a 400), and a quorum the round's participants cannot reach is a 400
before the round runs (it used to run the whole round, then answer 503)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def http(gateway):
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield client


def test_an_oversize_chunked_body_is_a_413(http, gateway):
    limit = gateway.settings.max_body_bytes

    def chunks():  # no Content-Length: the body is sent chunked
        yield b'{"model": "conclave-vote", "messages": [{"role": "user", "content": "'
        for _ in range(limit // 50_000 + 2):
            yield b"x" * 50_000
        yield b'"}]}'

    reply = http.post(
        "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"]["code"] == "payload_too_large"
    assert str(limit) in reply.json()["error"]["message"]


def test_an_impossible_quorum_is_a_400_before_the_round_runs(http):
    rounds_before = http.get("/v1/rounds", params={"limit": 100}).json()["data"]
    reply = http.post(
        "/v1/chat/completions",
        json={
            "model": "conclave-vote",
            "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 4,
            "conclave": {"quorum": 100},
        },
    )
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert "quorum 100 cannot be reached" in error["message"]
    assert "3 participant(s)" in error["message"]
    # Refused up front: no round was run or stored.
    assert http.get("/v1/rounds", params={"limit": 100}).json()["data"] == rounds_before
