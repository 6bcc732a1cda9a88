"""`response_format`, `tools` and `tool_choice` at the gateway, with a stand-in leader:
what reaches the round, the OpenAI shapes that come back (plain and streamed), and the
400s naming the field. The real stack is in tests/e2e/test_structured.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from conclave.gateway.app import create_app
from conclave.gateway.settings import GatewaySettings
from conclave.leader.events import CandidateText, RoundDecided, RoundEvent, RoundStarted
from conclave.leader.types import RoundRequest, RoundSpec, VoteGroup
from tests.gateway.fake_leader import FakeAgents, FakeLeader, decided_round

CHAT = "/v1/chat/completions"
CITY = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["name", "population"],
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


class ScriptedLeader(FakeLeader):
    """Answers every round with `reply` as its one candidate, the round's form kept."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = ""

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[RoundEvent]:
        self.specs.append(spec)
        record = decided_round(spec)
        candidate = replace(record.candidates[0], text=self.reply)
        record = replace(
            record,
            request=RoundRequest(
                messages=spec.messages,
                strategy=spec.strategy,
                response_format=spec.response_format,
                tools=spec.tools,
                tool_choice=spec.tool_choice,
            ),
            candidates=(candidate,),
            decision=replace(
                record.decision, groups=(VoteGroup(answer=self.reply, members=(0,), weight=1.0),)
            ),
        )
        yield RoundStarted("r1", spec.strategy, "majority", ("alpha",))
        yield CandidateText("alpha", 0, 0, self.reply)
        yield RoundDecided(record)


@pytest.fixture(scope="module")
def leader():
    return ScriptedLeader()


@pytest.fixture(scope="module")
def client(leader):
    app = create_app(GatewaySettings(leader="fake:1"), leader=leader, agents=FakeAgents())
    with TestClient(app) as test_client:
        yield test_client


def chat(**fields):
    return {"model": "conclave-vote", "messages": [{"role": "user", "content": "q"}], **fields}


def schema_format(schema=CITY, strict=True):
    return {
        "type": "json_schema",
        "json_schema": {"name": "City", "schema": schema, "strict": strict},
    }


def sse(response) -> list[dict]:
    lines = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize(
    "model", ["conclave-vote", "conclave-parallel", "conclave-moa", "agent/alpha"]
)
def test_a_json_schema_reaches_the_round_and_the_answer_is_canonical_json(client, leader, model):
    leader.reply = '{ "population": 14.0e6, "name": "Tokyo" }'
    response = client.post(CHAT, json={**chat(response_format=schema_format()), "model": model})
    assert response.status_code == 200, response.text
    spec = leader.specs[-1]
    assert spec.response_format.type == "json_schema" and spec.response_format.strict
    assert json.loads(spec.response_format.schema) == CITY
    assert spec.response_format.name == "City"
    message = response.json()["choices"][0]["message"]
    assert message["content"] == '{"name":"Tokyo","population":14000000}'


def test_json_object_and_text_formats(client, leader):
    leader.reply = '{"a": 1}'
    assert client.post(CHAT, json=chat(response_format={"type": "json_object"})).status_code == 200
    assert leader.specs[-1].response_format.type == "json_object"
    leader.reply = "plain"
    response = client.post(CHAT, json=chat(response_format={"type": "text"}))
    assert response.json()["choices"][0]["message"]["content"] == "plain"
    assert leader.specs[-1].response_format.type == "text"


def test_a_streamed_json_answer_comes_whole_then_finishes(client, leader):
    leader.reply = '{"name": "Oslo", "population": 1}'
    chunks = sse(
        client.post(
            CHAT, json=chat(response_format=schema_format(), stream=True, model="agent/alpha")
        )
    )
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert json.loads(content) == {"name": "Oslo", "population": 1}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_a_tool_call_comes_back_in_openais_shape(client, leader):
    leader.reply = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    response = client.post(CHAT, json=chat(tools=[WEATHER], tool_choice="auto"))
    assert response.status_code == 200, response.text
    spec = leader.specs[-1]
    assert spec.tools[0].name == "get_weather" and spec.tool_choice == "auto"
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert choice["message"]["content"] is None


def test_a_plain_answer_under_tools_auto_is_text(client, leader):
    leader.reply = "It is sunny."
    choice = client.post(CHAT, json=chat(tools=[WEATHER])).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "It is sunny."
    assert "tool_calls" not in choice["message"]


def test_a_streamed_tool_call_is_one_tool_call_delta(client, leader):
    leader.reply = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    chunks = sse(
        client.post(
            CHAT,
            json=chat(
                tools=[WEATHER],
                tool_choice={"type": "function", "function": {"name": "get_weather"}},
                stream=True,
            ),
        )
    )
    assert leader.specs[-1].tool_choice == "function:get_weather"
    calls = [
        c["choices"][0]["delta"]["tool_calls"]
        for c in chunks
        if c["choices"][0]["delta"].get("tool_calls")
    ]
    assert len(calls) == 1 and calls[0][0]["index"] == 0
    assert calls[0][0]["function"]["name"] == "get_weather"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_history_of_calls_and_results_is_rendered_for_the_voices(client, leader):
    leader.reply = "It is 20 degrees in Paris."
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "20 degrees"},
    ]
    response = client.post(CHAT, json=chat(messages=messages, tools=[WEATHER]))
    assert response.status_code == 200, response.text
    rendered = leader.specs[-1].messages
    assert rendered[1] == ("assistant", '{"name": "get_weather", "arguments": {"city": "Paris"}}')
    assert rendered[2] == ("user", "Result of the tool get_weather: 20 degrees")


BAD = [
    (chat(response_format={"type": "xml"}), "response_format"),
    (chat(response_format={"type": "json_schema"}), "response_format.json_schema"),
    (chat(response_format=schema_format({"type": "nope"})), "response_format.json_schema.schema"),
    (
        chat(response_format={"type": "json_object", "schema": {}}),
        "response_format.json_object.schema",
    ),
    (
        chat(tools=[{**WEATHER, "function": {**WEATHER["function"], "name": "bad name"}}]),
        "tools[0].function.name",
    ),
    (
        chat(
            tools=[
                {**WEATHER, "function": {**WEATHER["function"], "parameters": {"type": "array"}}}
            ]
        ),
        "tools[0].function.parameters",
    ),
    (
        chat(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "other"}}),
        "tool_choice",
    ),
    (chat(tool_choice="required"), "tool_choice"),
    (chat(tools=[WEATHER], tool_choice="sometimes"), "tool_choice"),
    (chat(tools=[WEATHER], response_format={"type": "json_object"}), "response_format"),
    (chat(parallel_tool_calls=False), "parallel_tool_calls"),
    (
        chat(messages=[{"role": "tool", "tool_call_id": "x", "content": "1"}]),
        "messages[0].tool_call_id",
    ),
    (chat(messages=[{"role": "tool", "content": "1"}]), "messages.0"),
    (
        chat(response_format=schema_format(), conclave={"params": {"answer_format": "later"}}),
        "params.answer_format",
    ),
]


@pytest.mark.parametrize(("payload", "param"), BAD)
def test_bad_forms_and_tools_are_400s_naming_the_field(client, payload, param):
    response = client.post(CHAT, json=payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] is not None and error["param"].startswith(param), error


def test_the_round_shows_the_call_each_voice_proposed(client, leader):
    leader.reply = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    body = client.post(CHAT, json=chat(tools=[WEATHER])).json()
    votes = body["conclave"]["votes"]
    assert votes[0]["members"] == [0]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"made_up": 1}, "made_up"),
        (
            {"messages": [{"role": "user", "content": "q", "refusal": "no"}]},
            "messages[0].refusal",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
                ]
            },
            "messages.0.content",
        ),
    ],
)
def test_fields_conclave_does_not_implement_are_400s_naming_them(client, fields, param):
    response = client.post(CHAT, json=chat(**fields))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith(param)


def test_fields_sent_at_the_value_that_asks_for_nothing_are_accepted(client, leader):
    leader.reply = "fine"
    neutral = {
        "logprobs": False,
        "frequency_penalty": 0,
        "presence_penalty": 0.0,
        "logit_bias": {},
        "audio": None,
        "store": False,
        "messages": [{"role": "user", "content": "q", "refusal": None, "name": "me"}],
    }
    assert client.post(CHAT, json=chat(**neutral)).status_code == 200
    legacy = {"model": "conclave-vote", "prompt": "q", "echo": True}
    assert client.post("/v1/completions", json=legacy).json()["error"]["param"] == "echo"
