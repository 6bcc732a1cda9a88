"""The Anthropic Messages door's own HTTP behaviour against a stand-in leader: every bad
request gets Anthropic's error shape and the documented status (docs/gateway.md), no field
is accepted and then ignored, and an error after a stream has opened arrives in-band as
the `anthropic` SDK expects it. The real stack is in tests/e2e/test_anthropic.py."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.gateway.conftest import DOOR_KEY, send

pytestmark = pytest.mark.timeout(120)

USER = [{"role": "user", "content": "hi"}]
MESSAGES = "/v1/messages"
COUNT = "/v1/messages/count_tokens"


@pytest.fixture(scope="module")
def client(door_client):
    return door_client


def msg(**changes):
    payload = {"model": "conclave-vote", "max_tokens": 16, "messages": USER, **changes}
    return {k: v for k, v in payload.items() if v is not ...}


ANTHROPIC_CASES = [
    # (name, path, json body or raw bytes, status, error type)
    ("malformed json", MESSAGES, b'{"model": "conclave-vote", "messages": [', 400, None),
    ("missing max_tokens", MESSAGES, msg(max_tokens=...), 400, "max_tokens"),
    ("zero max_tokens", MESSAGES, msg(max_tokens=0), 400, "max_tokens"),
    ("huge max_tokens", MESSAGES, msg(max_tokens=10**9), 400, "max_tokens"),
    ("missing messages", MESSAGES, msg(messages=...), 400, "messages"),
    ("empty messages", MESSAGES, msg(messages=[]), 400, "messages"),
    (
        "system role in messages",
        MESSAGES,
        msg(messages=[{"role": "system", "content": "x"}]),
        400,
        "role",
    ),
    (
        "final assistant turn",
        MESSAGES,
        msg(messages=[*USER, {"role": "assistant", "content": "I"}]),
        400,
        "prefill",
    ),
    (
        "image block",
        MESSAGES,
        msg(messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}]),
        400,
        "messages.0.content.0.type",
    ),
    (
        "tool_result block",
        MESSAGES,
        msg(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]),
        400,
        "tool_result",
    ),
    (
        "text block with citations",
        MESSAGES,
        msg(
            messages=[{"role": "user", "content": [{"type": "text", "text": "x", "citations": []}]}]
        ),
        400,
        "citations",
    ),
    ("temperature above Anthropic's 1", MESSAGES, msg(temperature=1.5), 400, "temperature"),
    ("top_p zero", MESSAGES, msg(top_p=0), 400, "top_p"),
    ("top_k", MESSAGES, msg(top_k=5), 400, "top_k"),
    ("tools", MESSAGES, msg(tools=[{"name": "f", "input_schema": {}}]), 400, "tools"),
    ("tool_choice", MESSAGES, msg(tool_choice={"type": "auto"}), 400, "tool_choice"),
    (
        "thinking",
        MESSAGES,
        msg(thinking={"type": "enabled", "budget_tokens": 1024}),
        400,
        "thinking",
    ),
    ("unknown field", MESSAGES, msg(colour="blue"), 400, "colour"),
    ("unknown metadata key", MESSAGES, msg(metadata={"team": "x"}), 400, "metadata.team"),
    (
        "too many stop sequences",
        MESSAGES,
        msg(stop_sequences=[str(i) for i in range(20)]),
        400,
        "stop_sequences",
    ),
    ("empty stop sequence", MESSAGES, msg(stop_sequences=[""]), 400, "stop_sequences"),
    ("stream not a boolean", MESSAGES, msg(stream="yes"), 400, "stream"),
    ("unknown conclave option", MESSAGES, msg(conclave={"strategy_x": 1}), 400, "conclave"),
    ("unknown model", MESSAGES, msg(model="claude-opus-4"), 404, "does not exist"),
    ("unknown participant", MESSAGES, msg(model="agent/nobody"), 404, "nobody"),
    (
        "oversize body",
        MESSAGES,
        msg(messages=[{"role": "user", "content": "x" * 1_100_000}]),
        413,
        "larger",
    ),
    ("count without messages", COUNT, {"model": "conclave-vote"}, 400, "messages"),
    ("count of an unknown model", COUNT, {"model": "gpt-4o", "messages": USER}, 404, "gpt-4o"),
    (
        "count with tools",
        COUNT,
        {"model": "agent/alpha", "messages": USER, "tools": [{"name": "f"}]},
        400,
        "tools",
    ),
    ("unknown path", MESSAGES + "/batches", {}, 404, None),
]
ANTHROPIC_TYPES = {400: "invalid_request_error", 404: "not_found_error", 413: "request_too_large"}


@pytest.mark.parametrize(
    ("name", "path", "payload", "status", "says"),
    ANTHROPIC_CASES,
    ids=[c[0] for c in ANTHROPIC_CASES],
)
def test_anthropic_bad_request_gets_anthropic_error(client, name, path, payload, status, says):
    response = send(client, path, payload)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == ANTHROPIC_TYPES[status]
    if says:
        assert says in body["error"]["message"]


def test_the_key_is_checked_in_anthropics_shape(client):
    refused = client.post(MESSAGES, json=msg(), headers={"x-api-key": "wrong"})
    assert refused.status_code == 401
    assert refused.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": refused.json()["error"]["message"]},
    }
    bearer = client.post(
        MESSAGES, json=msg(), headers={"x-api-key": "", "Authorization": f"Bearer {DOOR_KEY}"}
    )
    assert bearer.status_code == 200


def test_a_good_request_names_its_round(client):
    message = client.post(MESSAGES, json=msg(system="be brief", metadata={"user_id": "u7"}))
    assert message.status_code == 200 and message.headers["x-conclave-round-id"] == "r1"
    assert message.json()["content"] == [{"type": "text", "text": "answer 0"}]
    assert message.json()["conclave"]["round_id"] == "r1"
    counted = client.post(COUNT, json={"model": "agent/alpha", "messages": USER, "system": "x y"})
    assert counted.status_code == 200 and counted.json()["input_tokens"] > 0


def test_what_it_asks_the_leader(spying_client):
    http, leader = spying_client
    http.post(
        MESSAGES,
        json=msg(
            system=[{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            messages=[
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
                {"role": "user", "content": "c"},
            ],
            stop_sequences=["\n\n"],
            temperature=0.5,
            metadata={"user_id": "u7"},
            conclave={"method": "quality"},
        ),
    ).raise_for_status()
    (messages_spec,) = leader.specs
    assert messages_spec.messages == (
        ("system", "be brief"),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "c"),
    )
    assert messages_spec.stop == ("\n\n",) and messages_spec.temperature == 0.5
    assert messages_spec.max_tokens == 16 and messages_spec.method == "quality"
    assert messages_spec.tags == {"api": "anthropic", "model": "conclave-vote", "user": "u7"}


def test_consecutive_turns_of_one_role_are_one_turn(spying_client):
    http, leader = spying_client
    http.post(
        MESSAGES,
        json=msg(
            messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            cache_control={"type": "ephemeral"},
        ),
    ).raise_for_status()
    (spec,) = leader.specs
    assert spec.messages == (("user", "a\n\nb"),)


def test_anthropic_stream_error_arrives_in_band_through_the_sdk(failing_gateway):
    client = anthropic.Anthropic(base_url=failing_gateway.url, api_key="x", max_retries=0)
    seen = []
    stream = client.messages.stream(model="agent/alpha", max_tokens=8, messages=USER)
    with pytest.raises(anthropic.APIStatusError) as raised, stream as events:
        for event in events:
            seen.append(event.type)
    assert seen[:2] == ["message_start", "content_block_start"]
    assert raised.value.body["error"]["type"] == "overloaded_error"
    assert "quorum" in raised.value.body["error"]["message"]


def test_a_door_refusal_before_the_stream_is_a_plain_error(failing_gateway):
    # The round never starts (unknown participant): a 404 before any stream opens.
    reply = httpx.post(
        failing_gateway.url + MESSAGES,
        json=msg(model="agent/nobody", stream=True),
        timeout=30,
    )
    assert reply.status_code == 404 and reply.json()["error"]["type"] == "not_found_error"
