"""Structured answers and tool calls on the real stack (agent with the bundled model,
leader, gateway), through stock clients: the openai SDK's `parse` and LangChain's
`with_structured_output` and `bind_tools`."""

from __future__ import annotations

import json
from typing import Literal

import httpx
import pytest
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import OpenAI
from pydantic import BaseModel

from tests.support.servers import (
    RunningGateway,
    RunningLeader,
    gateway_settings,
    leader_settings,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class City(BaseModel):
    name: str
    country: str


class Choice(BaseModel):
    answer: Literal["A", "B", "C", "D"]


CAPITAL = [{"role": "user", "content": "What is the capital of France?"}]


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"It is sunny in {city}."


@pytest.fixture(scope="module")
def leader(agent, tmp_path_factory):
    db = tmp_path_factory.mktemp("structured") / "rounds.db"
    with RunningLeader(
        # Generous deadlines: constrained voices on a shared, busy 2-core box are slow.
        leader_settings(
            db, agents=[agent.address], participants_per_agent=3, participant_timeout_s=600.0
        )
    ) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(leader):
    with RunningGateway(gateway_settings(leader.address, request_timeout_s=900.0)) as running:
        yield running


@pytest.fixture(scope="module")
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)


def chat_model(gateway, model: str = "conclave-vote") -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=gateway.url + "/v1",
        api_key="unused",
        max_retries=0,
        max_tokens=64,
        temperature=0.7,
        seed=4,
    )


def round_of(gateway, round_id: str) -> dict:
    return httpx.get(f"{gateway.url}/v1/rounds/{round_id}", timeout=30).json()


@pytest.mark.parametrize("model", ["conclave-vote", "agent/test-agent"])
def test_openai_parse_returns_the_object(client, gateway, model):
    raw = client.chat.completions.with_raw_response.parse(
        model=model, messages=CAPITAL, response_format=City, max_tokens=64, seed=2
    )
    completion = raw.parse()
    city = completion.choices[0].message.parsed
    assert isinstance(city, City) and city.name
    record = round_of(gateway, raw.headers["x-conclave-round-id"])
    assert record["response_format"]["type"] == "json_schema"
    assert json.loads(record["response_format"]["schema"])["required"] == [
        "name",
        "country",
    ]
    answered = [c for c in record["candidates"] if c["finish_reason"] == "stop"]
    assert answered  # (others may be stragglers the early stop cancelled)
    for candidate in answered:
        City.model_validate_json(candidate["text"])  # every voice answered under the schema


def test_openai_parse_streams_too(client):
    with client.chat.completions.stream(
        model="agent/test-agent", messages=CAPITAL, response_format=City, max_tokens=64, seed=3
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, City)


def test_langchain_with_structured_output_returns_the_object(gateway):
    structured = chat_model(gateway).with_structured_output(City, method="json_schema")
    city = structured.invoke("What is the capital of Japan?")
    assert isinstance(city, City) and city.name


def test_a_critique_strategy_votes_on_json_too(client, gateway):
    raw = client.chat.completions.with_raw_response.parse(
        model="conclave-parallel",
        messages=CAPITAL,
        response_format=City,
        max_tokens=48,
        seed=5,
        extra_body={"conclave": {"params": {"stop_on_agreement": "false"}}},
    )
    assert isinstance(raw.parse().choices[0].message.parsed, City)
    record = round_of(gateway, raw.headers["x-conclave-round-id"])
    assert {c["turn"] for c in record["candidates"]} == {0, 1}
    for vote in record["decision"]["groups"]:
        City.model_validate_json(vote["answer"])  # the tally is over canonical objects


def test_a_multiple_choice_question_votes_over_letters(client, gateway):
    question = "Which planet is known as the Red Planet?\nA) Venus\nB) Mars\nC) Jupiter\nD) Saturn"
    schema = {"type": "string", "enum": ["A", "B", "C", "D"]}
    raw = client.chat.completions.with_raw_response.create(
        model="conclave-vote",
        messages=[{"role": "user", "content": question}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "letter", "schema": schema, "strict": True},
        },
        max_tokens=8,
        seed=1,
    )
    answer = json.loads(raw.parse().choices[0].message.content)
    assert answer in "ABCD"
    record = round_of(gateway, raw.headers["x-conclave-round-id"])
    answered = [c for c in record["candidates"] if c["finish_reason"] == "stop"]
    assert answered and all(json.loads(c["text"]) in list("ABCD") for c in answered)
    assert {g["answer"] for g in record["decision"]["groups"]} <= {'"A"', '"B"', '"C"', '"D"'}


def test_langchain_bind_tools_gets_a_call_with_valid_arguments(gateway):
    model = chat_model(gateway).bind_tools([get_weather], tool_choice="get_weather")
    message = model.invoke("What is the weather in Paris?")
    assert len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str)
    assert get_weather.invoke(call["args"]).startswith("It is sunny")


def test_a_tool_call_round_shows_every_proposed_call(client, gateway):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The current weather in a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="conclave-vote",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice="required",
        max_tokens=48,
        seed=6,
    )
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    record = round_of(gateway, raw.headers["x-conclave-round-id"])
    for candidate in [c for c in record["candidates"] if c["finish_reason"] == "stop"]:
        proposed = json.loads(candidate["text"])
        assert proposed["name"] == "get_weather"
    streamed = list(
        client.chat.completions.create(
            model="conclave-vote",
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=tools,
            tool_choice="required",
            max_tokens=48,
            seed=6,
            stream=True,
        )
    )
    deltas = [
        c.choices[0].delta.tool_calls
        for c in streamed
        if c.choices and c.choices[0].delta.tool_calls
    ]
    assert deltas and deltas[0][0].function.name == "get_weather"
    assert streamed[-1].choices[0].finish_reason == "tool_calls"


def test_bad_schemas_and_tools_are_400s_naming_the_field(client, gateway):
    bad = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "conclave-vote",
            "messages": CAPITAL,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": 5}},
            },
        },
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "response_format.json_schema.schema"
    bad = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "conclave-vote",
            "messages": CAPITAL,
            "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
            ],
        },
        timeout=30,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "tools[0].function.parameters"


async def test_an_autogen_assistant_calls_its_function_tool_and_finishes(gateway):
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import ToolCallExecutionEvent, ToolCallSummaryMessage
    from autogen_core.models import ModelFamily
    from autogen_core.tools import FunctionTool
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    calls: list[str] = []

    async def weather(city: str) -> str:
        """The current weather in a city."""
        calls.append(city)
        return f"It is sunny in {city}."

    client = OpenAIChatCompletionClient(
        model="conclave-vote",
        base_url=gateway.url + "/v1",
        api_key="unused",
        max_retries=0,
        max_tokens=64,
        seed=7,
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": True,
            "structured_output": True,
            "family": ModelFamily.UNKNOWN,
        },
    )
    agent = AssistantAgent(
        "assistant",
        model_client=client,
        tools=[FunctionTool(weather, description="The current weather in a city.")],
        system_message="You answer questions about the weather with the weather tool.",
    )
    try:
        result = await agent.run(task="What is the weather in Paris? Use the weather tool.")
    finally:
        await client.close()
    assert calls and all(isinstance(city, str) for city in calls)
    assert any(isinstance(m, ToolCallExecutionEvent) for m in result.messages)
    assert isinstance(result.messages[-1], ToolCallSummaryMessage)
    assert result.messages[-1].content.startswith("It is sunny")


def test_reason_first_reasons_in_free_text_then_answers_under_the_schema(client, gateway):
    raw = client.chat.completions.with_raw_response.create(
        model="agent/test-agent",
        messages=CAPITAL,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "City", "schema": City.model_json_schema(), "strict": True},
        },
        max_tokens=192,
        seed=8,
        extra_body={"conclave": {"params": {"answer_format": "reason_first"}}},
    )
    choice = raw.parse().choices[0]
    record = round_of(gateway, raw.headers["x-conclave-round-id"])
    assert record["params"]["answer_format"] == "reason_first"
    text = record["candidates"][0]["text"]
    if choice.finish_reason == "stop":
        assert "\nAnswer:" in text or text.startswith("Answer:")
        City.model_validate_json(choice.message.content)  # the content is the answer alone
        assert choice.message.model_extra.get("reasoning_content", "") in text
    else:  # cut off while reasoning: no answer, and none pretended
        assert choice.finish_reason == "length"
