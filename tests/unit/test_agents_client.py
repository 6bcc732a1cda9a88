"""The AutoGen model client's offline parts and message conversion (no server)."""

from __future__ import annotations

import json
import warnings

import pytest
from autogen_core import ComponentModel, FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)
from PIL import Image as PILImage
from pydantic import BaseModel

from conclave.agents.client import ConclaveChatCompletionClient
from conclave.agents.messages import to_chat_messages, to_llm_messages
from conclave.agents.tokens import estimate_tokens
from conclave.errors import InvalidRequest
from conclave.services.engine.types import ChatMessage

UNREACHABLE = "127.0.0.1:1"
HELLO = [UserMessage(content="Hello there", source="user")]


def client(**config) -> ConclaveChatCompletionClient:
    return ConclaveChatCompletionClient(**{"address": UNREACHABLE, **config})


def test_the_persona_opens_the_one_system_text():
    messages = [
        SystemMessage(content="Answer in French."),
        UserMessage(content="Hi", source="user"),
        AssistantMessage(content="Salut", source="bot"),
    ]
    assert to_chat_messages(messages, system_prompt="You are a skeptic.") == (
        ChatMessage("system", "You are a skeptic.\n\nAnswer in French."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Salut"),
    )
    assert to_chat_messages(HELLO) == (ChatMessage("user", "Hello there"),)
    assert to_chat_messages(HELLO, system_prompt="P")[0] == ChatMessage("system", "P")


def test_text_parts_of_a_user_message_are_joined():
    message = UserMessage(content=["one", "two"], source="user")
    assert to_chat_messages([message]) == (ChatMessage("user", "one\ntwo"),)


@pytest.mark.parametrize(
    "message",
    [
        UserMessage(content=["look", Image(PILImage.new("RGB", (2, 2)))], source="user"),
        AssistantMessage(content=[FunctionCall(id="1", name="f", arguments="{}")], source="a"),
        FunctionExecutionResultMessage(
            content=[FunctionExecutionResult(content="x", name="f", call_id="1")]
        ),
    ],
)
def test_what_the_model_cannot_take_is_refused(message):
    with pytest.raises(InvalidRequest):
        to_chat_messages([message])


def test_a_domain_conversation_becomes_autogen_messages():
    out = to_llm_messages(
        [ChatMessage("system", "s"), ChatMessage("user", "u"), ChatMessage("assistant", "a")]
    )
    assert [type(m) for m in out] == [SystemMessage, UserMessage, AssistantMessage]


async def test_tools_and_unknown_args_are_refused_before_any_call():
    c = client()
    with pytest.raises(InvalidRequest, match="takes no tools"):
        await c.create(HELLO, tools=[{"name": "f"}])  # type: ignore[list-item]
    with pytest.raises(InvalidRequest, match="frequency_penalty"):
        await c.create(HELLO, extra_create_args={"frequency_penalty": 1.0})


class City(BaseModel):
    name: str
    population: int


def test_json_output_asks_the_agent_for_json_under_a_grammar():
    c = client()
    assert not c._request(HELLO, {}).constraint.active
    assert json.loads(c._request(HELLO, {}, True).constraint.json_schema) == {"type": "object"}
    schema = json.loads(c._request(HELLO, {}, City).constraint.json_schema)
    assert schema["required"] == ["name", "population"]
    configured = client(json_schema='{"enum": ["a"]}', constrain_after="Answer:")
    assert configured._request(HELLO, {}).constraint.after == "Answer:"
    with pytest.raises(InvalidRequest) as info:
        configured._request(HELLO, {}, True)
    assert info.value.field == "json_output"


def test_model_info_says_what_the_agent_service_can_do():
    info = client().model_info
    assert info == {
        "vision": False,
        "function_calling": False,
        "json_output": True,
        "family": "unknown",
        "structured_output": True,
        "multiple_system_messages": False,
    }
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert client().capabilities["vision"] is False


async def test_inside_an_event_loop_count_tokens_estimates_without_blocking():
    c = client(system_prompt="Be brief.")
    assert c.count_tokens(HELLO) == estimate_tokens(["Be brief.", "Hello there"])


def test_outside_a_loop_an_unreachable_agent_falls_back_to_the_estimate():
    assert client().count_tokens(HELLO) == estimate_tokens(["Hello there"])


def test_remaining_tokens_uses_the_configured_context_size():
    c = client(context_size=1000)
    assert c.remaining_tokens(HELLO) == 1000 - estimate_tokens(["Hello there"])


def test_usage_starts_at_zero():
    c = client()
    assert c.actual_usage().prompt_tokens == 0 and c.total_usage().completion_tokens == 0


def test_the_config_round_trips_through_dump_and_load_component():
    original = client(
        participant="skeptic",
        system_prompt="You doubt.",
        max_tokens=48,
        temperature=0.2,
        seed=7,
        stop=["\n\n"],
        context_size=1024,
    )
    dumped = original.dump_component()
    assert dumped.provider == "conclave.agents.client.ConclaveChatCompletionClient"
    assert dumped.component_type == "model"
    # Through JSON, as a config file would carry it.
    reloaded = ComponentModel.model_validate(json.loads(dumped.model_dump_json()))
    loaded = ChatCompletionClient.load_component(reloaded)
    assert isinstance(loaded, ConclaveChatCompletionClient)
    assert loaded.config == original.config
    assert loaded.dump_component() == dumped


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        client(max_tokens=0)
    with pytest.raises(ValueError):
        client(colour="blue")
