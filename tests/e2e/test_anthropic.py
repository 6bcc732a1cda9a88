"""The Anthropic Messages door on a real swarm, through the official `anthropic` SDK."""

from __future__ import annotations

import anthropic
import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

KEY = "anthropic-test-key"
ASK = [{"role": "user", "content": "Name a colour."}]
# The documented sequence; `ping` may come between events while a vote runs.
SEQUENCE = ["message_start", "content_block_start", "content_block_delta"]
ENDING = ["content_block_stop", "message_delta", "message_stop"]


@pytest.fixture(scope="module")
def gateway_key() -> str:
    return KEY


@pytest.fixture(scope="module")
def client(gateway):
    # The SDK sends the key as x-api-key, as it does to Anthropic.
    return anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0)


def stored(gateway, round_id: str) -> dict:
    reply = httpx.get(
        f"{gateway.url}/v1/rounds/{round_id}", headers={"Authorization": f"Bearer {KEY}"}
    )
    reply.raise_for_status()
    return reply.json()


def test_messages_create_by_vote_with_system_and_turns(client, gateway):
    raw = client.messages.with_raw_response.create(
        model="conclave-vote",
        max_tokens=24,
        system="Answer with one word.",
        messages=[
            {"role": "user", "content": "Name a fruit."},
            {"role": "assistant", "content": "Apple."},
            {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
        ],
        stop_sequences=["\n\n"],
        # This SDK no longer names temperature; the door still honours it.
        extra_body={"temperature": 0.5},
    )
    message = raw.parse()
    round_id = raw.headers["x-conclave-round-id"]
    assert (
        message.id == "msg_" + round_id and message.model_extra["conclave"]["round_id"] == round_id
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    record = stored(gateway, round_id)
    assert record["strategy"] == "vote" and len(record["candidates"]) == 3
    assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant", "user"]
    assert record["messages"][0]["content"] == "Answer with one word."
    assert (
        record["stop"] == ["\n\n"] and record["temperature"] == 0.5 and record["max_tokens"] == 24
    )
    assert record["tags"]["api"] == "anthropic"
    assert record["text"] == message.content[0].text
    spent = sum(c["prompt_tokens"] for c in record["candidates"])
    cached = sum(c["cached_prompt_tokens"] for c in record["candidates"])
    # Anthropic's count: input_tokens leaves out what was read from a cache.
    assert message.usage.cache_read_input_tokens == cached
    assert message.usage.input_tokens + cached == spent
    assert message.usage.cache_creation_input_tokens == 0


def test_messages_create_by_one_participant(client, gateway):
    raw = client.messages.with_raw_response.create(
        model="agent/test-agent", max_tokens=16, messages=ASK
    )
    message = raw.parse()
    record = stored(gateway, raw.headers["x-conclave-round-id"])
    (candidate,) = record["candidates"]
    assert candidate["participant"] == "test-agent"
    assert message.content[0].text == candidate["text"]
    expected = "max_tokens" if candidate["finish_reason"] == "length" else "end_turn"
    assert message.stop_reason == expected


def raw_event_types(client, model: str) -> tuple[list[str], str]:
    events = list(client.messages.create(model=model, max_tokens=16, messages=ASK, stream=True))
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    return [e.type for e in events if e.type != "ping"], text


@pytest.mark.parametrize("model", ["conclave-vote", "agent/test-agent"])
def test_the_stream_is_anthropics_event_sequence(client, model):
    types, text = raw_event_types(client, model)
    assert text
    assert types[: len(SEQUENCE)] == SEQUENCE and types[-len(ENDING) :] == ENDING
    assert set(types[len(SEQUENCE) - 1 : -len(ENDING)]) == {"content_block_delta"}


def test_messages_stream_by_vote_gives_the_decided_answer(client, gateway):
    with client.messages.stream(model="conclave-vote", max_tokens=16, messages=ASK) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    round_id = final.id.removeprefix("msg_")
    record = stored(gateway, round_id)
    assert text == final.content[0].text == record["text"]
    assert final.usage.output_tokens == sum(c["completion_tokens"] for c in record["candidates"])
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_messages_stream_by_one_participant_is_live(client, gateway):
    count = [{"role": "user", "content": "Count from 1 to 1000, separated by commas."}]
    with client.messages.stream(
        model="agent/test-agent", max_tokens=24, messages=count, extra_body={"temperature": 0}
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 2  # token by token, not one decided blob
    (candidate,) = stored(gateway, final.id.removeprefix("msg_"))["candidates"]
    assert "".join(pieces) == final.content[0].text == candidate["text"]


def test_count_tokens_is_the_agents_own_count(client, gateway):
    messages = [{"role": "user", "content": "Name a colour."}]
    counted = client.messages.count_tokens(model="agent/test-agent", messages=messages)
    longer = client.messages.count_tokens(
        model="conclave-vote", system="You are terse.", messages=messages
    )
    assert 0 < counted.input_tokens < longer.input_tokens
    # The same prompt, answered: the participant's prefill is exactly that many tokens.
    raw = client.messages.with_raw_response.create(
        model="agent/test-agent", max_tokens=4, messages=messages
    )
    (candidate,) = stored(gateway, raw.headers["x-conclave-round-id"])["candidates"]
    assert candidate["prompt_tokens"] == counted.input_tokens


def test_unknown_model_is_anthropics_not_found_error(client):
    with pytest.raises(anthropic.NotFoundError) as raised:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ASK)
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="claude-sonnet-4-5", messages=ASK)


def test_bad_requests_are_anthropics_invalid_request_error(client, gateway):
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model="conclave-vote", max_tokens=8, messages=ASK, extra_body={"temperature": 1.5}
        )
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model="conclave-vote",
            max_tokens=8,
            messages=ASK,
            tools=[{"name": "f", "input_schema": {"type": "object"}}],
        )
    assert "tools" in raised.value.body["error"]["message"]
    wrong_key = anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        wrong_key.messages.create(model="conclave-vote", max_tokens=8, messages=ASK)
    assert raised.value.body["error"]["type"] == "authentication_error"
