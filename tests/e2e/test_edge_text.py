"""Text is checked once at the gateway's edge: a lone UTF-16 surrogate in any field of
any door is a 400 that names the field (it used to be a 500 from protobuf, uncounted),
on the real stack. The bodies are sent as raw bytes: JSON's `\\ud800` escape is how
such text arrives (no UTF-8 encoder would write it)."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LONE = '"a\\ud800b"'  # the JSON text of a string holding a lone surrogate
CHAT_MESSAGES = '[{"role": "user", "content": "hi"}]'

CASES = [
    # (path, JSON body with a lone surrogate, the field the 400 names)
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": [{{"role": "user", "content": {LONE}}}]}}',
        "messages[0].content",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": {LONE}, "messages": {CHAT_MESSAGES}}}',
        "model",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": {CHAT_MESSAGES}, "stop": {LONE}}}',
        "stop",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": {CHAT_MESSAGES}, "stop": ["x", {LONE}]}}',
        "stop[1]",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": {CHAT_MESSAGES},'
        f' "conclave": {{"tags": {{"team": {LONE}}}}}}}',
        "conclave.tags.team",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": {CHAT_MESSAGES},'
        f' "conclave": {{"tags": {{{LONE}: "x"}}}}}}',
        "conclave.tags",
    ),
    (
        "/v1/chat/completions",
        f'{{"model": "conclave-vote", "messages": {CHAT_MESSAGES},'
        f' "conclave": {{"params": {{"critique_rounds": {LONE}}}}}}}',
        "conclave.params.critique_rounds",
    ),
    ("/v1/completions", f'{{"model": "conclave-vote", "prompt": {LONE}}}', "prompt"),
    ("/v1/completions", f'{{"model": "conclave-vote", "prompt": ["ok", {LONE}]}}', "prompt[1]"),
    ("/v1/embeddings", f'{{"model": "agent/test-agent-1", "input": {LONE}}}', "input"),
    ("/v1/embeddings", f'{{"model": "agent/test-agent-1", "input": [{LONE}]}}', "input[0]"),
    (
        "/v1/messages",
        f'{{"model": "conclave-vote", "max_tokens": 8,'
        f' "messages": [{{"role": "user", "content": {LONE}}}]}}',
        "messages[0].content",
    ),
    (
        "/v1/messages",
        f'{{"model": "conclave-vote", "max_tokens": 8, "system": {LONE},'
        f' "messages": {CHAT_MESSAGES}}}',
        "system",
    ),
    ("/v1/responses", f'{{"model": "conclave-vote", "input": {LONE}}}', "input"),
    (
        "/v1/responses",
        f'{{"model": "conclave-vote", "input": "hi", "instructions": {LONE}}}',
        "instructions",
    ),
]


@pytest.fixture(scope="module")
def http(gateway):
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize(("path", "text", "field"), CASES, ids=[c[2] + " " + c[0] for c in CASES])
def test_a_lone_surrogate_is_a_400_naming_its_field(http, path, text, field):
    reply = http.post(path, content=text.encode(), headers={"content-type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["message"].startswith(f"{field}: ")
    assert "surrogate" in error["message"]
    if "param" in error:  # OpenAI's shape names it as the param too (Anthropic's has none)
        assert error["param"] == field


def test_the_refusals_are_counted_and_no_5xx_happened(http):
    http.post(
        "/v1/chat/completions",
        content=CASES[0][1].encode(),
        headers={"content-type": "application/json"},
    )
    metrics = http.get("/metrics").text
    assert 'conclave_gateway_errors_total{code="400"}' in metrics
    assert 'code="500"' not in metrics
