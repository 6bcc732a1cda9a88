"""The OpenAI Responses door on a real swarm, through the `openai` SDK's
`client.responses` (create, its streaming forms, retrieve)."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai import OpenAI

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# The Responses API's events for one text message, in order; deltas repeat.
OPENING = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
]
CLOSING = [
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
COUNT = "Count from 1 to 1000, separated by commas."


@pytest.fixture(scope="module")
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def stored(gateway, round_id: str) -> dict:
    reply = httpx.get(f"{gateway.url}/v1/rounds/{round_id}")
    reply.raise_for_status()
    return reply.json()


def turns(record: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in record["messages"]]


def test_create_names_its_round_and_retrieve_gives_it_back(client, gateway):
    raw = client.responses.with_raw_response.create(
        model="conclave-vote",
        input="Name a colour.",
        instructions="Answer with one word.",
        max_output_tokens=16,
        metadata={"case": "create"},
    )
    response = raw.parse()
    round_id = raw.headers["x-conclave-round-id"]
    assert response.id == "resp_" + round_id
    assert response.model_extra["conclave"]["round_id"] == round_id
    assert response.object == "response" and response.model == "conclave-vote"
    assert response.status in ("completed", "incomplete") and response.output_text
    assert response.instructions == "Answer with one word." and response.metadata == {
        "case": "create"
    }
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    record = stored(gateway, round_id)
    assert response.usage.input_tokens_details.cached_tokens == sum(
        c["cached_prompt_tokens"] for c in record["candidates"]
    )
    assert turns(record) == [("system", "Answer with one word."), ("user", "Name a colour.")]
    assert record["text"] == response.output_text and record["max_tokens"] == 16
    # Stored with the round: the same response comes back, by id.
    again = client.responses.retrieve(response.id)
    assert again.model_dump() == response.model_dump()


def test_previous_response_id_sees_the_earlier_turn(client, gateway):
    first = client.responses.create(
        model="conclave-vote",
        input="My name is Ada. Say hello.",
        instructions="Be brief.",
        max_output_tokens=16,
    )
    follow = client.responses.create(
        model="agent/test-agent",
        previous_response_id=first.id,
        input="What is my name?",
        max_output_tokens=16,
    )
    assert follow.previous_response_id == first.id and follow.instructions is None
    record = stored(gateway, follow.id.removeprefix("resp_"))
    # The earlier conversation (its instructions applied to it alone) and its answer.
    assert turns(record) == [
        ("user", "My name is Ada. Say hello."),
        ("assistant", first.output_text),
        ("user", "What is my name?"),
    ]
    (candidate,) = record["candidates"]
    assert candidate["participant"] == "test-agent" and follow.output_text == candidate["text"]
    # A third turn chains through the second (which already holds the first).
    third = client.responses.create(
        model="conclave-vote", previous_response_id=follow.id, input="Thanks.", max_output_tokens=8
    )
    assert turns(stored(gateway, third.id.removeprefix("resp_")))[:4] == [
        *turns(record),
        ("assistant", follow.output_text),
    ]


def test_explicit_input_items_carry_the_conversation(client, gateway):
    first = client.responses.create(
        model="conclave-vote", input="Name a fruit.", max_output_tokens=8
    )
    response = client.responses.create(
        model="conclave-vote",
        input=[
            {"role": "developer", "content": "Answer in one word."},
            {"role": "user", "content": "Name a fruit."},
            # An earlier response's output items go back in as they came.
            *[item.model_dump() for item in first.output],
            {"role": "user", "content": [{"type": "input_text", "text": "And a colour?"}]},
        ],
        max_output_tokens=8,
    )
    assert turns(stored(gateway, response.id.removeprefix("resp_"))) == [
        ("system", "Answer in one word."),
        ("user", "Name a fruit."),
        ("assistant", first.output_text),
        ("user", "And a colour?"),
    ]


@pytest.mark.parametrize("model", ["conclave-vote", "agent/test-agent"])
def test_streaming_events_are_the_responses_apis(client, gateway, model):
    events = list(
        # Greedy: a sampled count can stop after two pieces ("12"), and the live-token
        # check below needs more.
        client.responses.create(
            model=model, input=COUNT, max_output_tokens=24, temperature=0, stream=True
        )
    )
    types = [e.type for e in events]
    assert types[: len(OPENING)] == OPENING
    assert types[-4:-1] == CLOSING and types[-1] in ("response.completed", "response.incomplete")
    assert set(types[len(OPENING) - 1 : -4]) == {"response.output_text.delta"}
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    final = events[-1].response
    record = stored(gateway, final.id.removeprefix("resp_"))
    assert "".join(deltas) == final.output_text == record["text"]
    if model.startswith("agent/"):
        assert len(deltas) > 2  # the participant's tokens, live


def test_the_sdks_stream_helper_accumulates_the_answer(client, gateway):
    with client.responses.stream(
        model="agent/test-agent",
        input="Name a colour.",
        max_output_tokens=200,
        temperature=0,
    ) as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.status == "completed" and "".join(texts) == final.output_text
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_bad_requests_are_openai_errors(client):
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="gpt-5", input="hi")
    assert raised.value.body["code"] == "not_found"
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="conclave-vote", input="hi", previous_response_id="resp_x")
    assert raised.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(
            model="conclave-vote",
            input="hi",
            tools=[{"type": "function", "name": "f", "parameters": {}, "strict": True}],
        )
    assert raised.value.body["param"] == "tools"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_0000")
