"""The OpenAI Responses door's own HTTP behaviour against a stand-in leader: every bad
request gets OpenAI's error shape and the documented status (docs/gateway.md), no field is
accepted and then ignored, and an error after a stream has opened arrives in-band as the
`openai` SDK expects it. The real stack is in tests/e2e/test_responses.py."""

from __future__ import annotations

import openai
import pytest

from tests.gateway.conftest import DOOR_KEY, send

pytestmark = pytest.mark.timeout(120)

RESPONSES = "/v1/responses"


@pytest.fixture(scope="module")
def client(door_client):
    return door_client


def resp(**changes):
    payload = {"model": "conclave-vote", "input": "hi", **changes}
    return {k: v for k, v in payload.items() if v is not ...}


RESPONSES_CASES = [
    ("malformed json", RESPONSES, b'{"model": ', 400, None),
    ("missing input", RESPONSES, resp(input=...), 400, "input"),
    ("input not text or items", RESPONSES, resp(input=5), 400, "input"),
    (
        "function_call item",
        RESPONSES,
        resp(input=[{"type": "function_call", "name": "f"}]),
        400,
        "input.0.type",
    ),
    (
        "image part",
        RESPONSES,
        resp(input=[{"role": "user", "content": [{"type": "input_image"}]}]),
        400,
        "input.0.content.0.type",
    ),
    (
        "item without role",
        RESPONSES,
        resp(input=[{"type": "message", "content": "x"}]),
        400,
        "input.0",
    ),
    (
        "unknown item field",
        RESPONSES,
        resp(input=[{"role": "user", "content": "x", "mood": 1}]),
        400,
        "input.0.mood",
    ),
    ("zero max_output_tokens", RESPONSES, resp(max_output_tokens=0), 400, "max_output_tokens"),
    ("huge max_output_tokens", RESPONSES, resp(max_output_tokens=10**9), 400, "max_output_tokens"),
    ("temperature too high", RESPONSES, resp(temperature=3), 400, "temperature"),
    ("store false", RESPONSES, resp(store=False), 400, "store"),
    ("tools", RESPONSES, resp(tools=[{"type": "function", "name": "f"}]), 400, "tools"),
    ("tool_choice", RESPONSES, resp(tool_choice="required"), 400, "tool_choice"),
    (
        "json schema output",
        RESPONSES,
        resp(text={"format": {"type": "json_schema", "name": "x", "schema": {}}}),
        400,
        "text.format.type",
    ),
    ("reasoning", RESPONSES, resp(reasoning={"effort": "low"}), 400, "reasoning"),
    ("truncation auto", RESPONSES, resp(truncation="auto"), 400, "truncation"),
    ("background", RESPONSES, resp(background=True), 400, "background"),
    ("unknown field", RESPONSES, resp(colour="blue"), 400, "colour"),
    (
        "too much metadata",
        RESPONSES,
        resp(metadata={str(i): "v" for i in range(17)}),
        400,
        "metadata",
    ),
    ("metadata key too long", RESPONSES, resp(metadata={"k" * 65: "v"}), 400, "metadata"),
    (
        "unknown previous response",
        RESPONSES,
        resp(previous_response_id="resp_nope"),
        400,
        "previous_response_id",
    ),
    (
        "previous id not a response id",
        RESPONSES,
        resp(previous_response_id="r1"),
        400,
        "previous_response_id",
    ),
    (
        "previous round not made by this door",
        RESPONSES,
        resp(previous_response_id="resp_r1"),
        400,
        "previous_response_id",
    ),
    ("unknown model", RESPONSES, resp(model="gpt-5"), 404, "gpt-5"),
    ("oversize body", RESPONSES, resp(input="x" * 1_100_000), 413, "larger"),
]


@pytest.mark.parametrize(
    ("name", "path", "payload", "status", "param"),
    RESPONSES_CASES,
    ids=[c[0] for c in RESPONSES_CASES],
)
def test_responses_bad_request_gets_openai_error(client, name, path, payload, status, param):
    response = send(client, path, payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    if param:
        assert param in (error["param"] or "") + error["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/responses/resp_unknown", 404),
        ("/v1/responses/not-a-response-id", 404),
        ("/v1/responses/resp_r1", 404),  # a round, but not one this door made
        ("/v1/responses/resp_r1?stream=true", 400),  # a replay is not served: refused
    ],
)
def test_retrieving_what_is_not_a_response(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_the_key_is_checked_in_openais_shape(client):
    refused = client.post(
        RESPONSES, json=resp(), headers={"x-api-key": "", "Authorization": "Bearer no"}
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    bearer = client.post(RESPONSES, json=resp(), headers={"Authorization": f"Bearer {DOOR_KEY}"})
    assert bearer.status_code == 200


def test_a_good_request_names_its_round(client):
    response = client.post(RESPONSES, json=resp(instructions="be brief", metadata={"k": "v"}))
    assert response.status_code == 200 and response.headers["x-conclave-round-id"] == "r1"
    body = response.json()
    assert body["id"] == "resp_r1" and body["instructions"] == "be brief"
    assert body["metadata"] == {"k": "v"} and body["output"][0]["content"][0]["text"] == "answer 0"


def test_what_it_asks_the_leader(spying_client):
    http, leader = spying_client
    http.post(
        RESPONSES,
        json=resp(
            input=[
                {"role": "developer", "content": "terse"},
                {"role": "user", "content": [{"type": "input_text", "text": "a"}]},
                {
                    "type": "message",
                    "id": "msg_x",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "b", "annotations": []}],
                },
                {"role": "user", "content": "c"},
            ],
            instructions="be brief",
            max_output_tokens=9,
            user="u8",
            metadata={"k": "v"},
        ),
    ).raise_for_status()
    (responses_spec,) = leader.specs
    assert responses_spec.messages == (
        ("system", "be brief"),
        ("system", "terse"),
        ("user", "a"),
        ("assistant", "b"),
        ("user", "c"),
    )
    assert responses_spec.max_tokens == 9
    assert responses_spec.tags == {
        "api": "openai-responses",
        "model": "conclave-vote",
        "user": "u8",
        "responses.instructions": "1",
        "metadata.k": "v",
    }


def test_responses_stream_error_arrives_in_band_through_the_sdk(failing_gateway):
    client = openai.OpenAI(base_url=failing_gateway.url + "/v1", api_key="x", max_retries=0)
    events = list(client.responses.create(model="agent/alpha", input="hi", stream=True))
    assert [e.type for e in events[:4]] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert events[-1].type == "error" and events[-1].code == "unavailable"
    assert [e.sequence_number for e in events] == list(range(len(events)))
