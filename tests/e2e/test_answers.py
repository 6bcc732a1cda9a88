"""Answers worth voting on: the bundled default answers easy questions, on the real stack.

A regression guard, not a benchmark (quality is measured by `make bench ARGS=quality`):
at temperature 0 with a fixed seed, each voice of the default is deterministic, so these
answers are what the model and its chat format give, every run. They failed with Gemma's
turn format (the base model continued the question instead of answering it).
"""

from __future__ import annotations

import re

import grpc
import pytest
from openai import OpenAI

from conclave.swarm import DEFAULT_TEMPERATURE, DEFAULT_VOICE_MODELS
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import (
    RunningAgent,
    RunningGateway,
    RunningLeader,
    agent_settings,
    gateway_settings,
    leader_settings,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# (question, a pattern the answer's first line must hold)
EASY = (
    ("What is the capital of France?", r"\bparis\b"),
    ("What is the capital of Japan?", r"\btokyo\b"),
    ("What is 2 + 2?", r"\b4\b"),
    ("How many legs does a cat have?", r"\b(4|four)\b"),
    ("What colour is the sky on a clear day?", r"\bblue\b"),
)
TURN_MARKERS = re.compile(r"^\s*(user|assistant|q|a)\s*:", re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def gateway(agent, tmp_path_factory):
    db = tmp_path_factory.mktemp("answers") / "rounds.db"
    with (
        RunningLeader(
            leader_settings(
                db,
                agents=[agent.address],
                participants_per_agent=len(DEFAULT_VOICE_MODELS),
                voice_models=list(DEFAULT_VOICE_MODELS),  # the voices `conclave up` starts
                default_temperature=DEFAULT_TEMPERATURE,
            )
        ) as lead,
        RunningGateway(gateway_settings(lead.address)) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def client(gateway):
    return OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=300)


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _check(text: str, pattern: str) -> None:
    assert re.search(pattern, _first_line(text), re.IGNORECASE), text
    assert not TURN_MARKERS.search(text), f"ran on into a made-up turn: {text!r}"
    assert text == text.strip(), f"stray whitespace around {text!r}"


@pytest.mark.parametrize(("question", "pattern"), EASY)
@pytest.mark.parametrize("model", ["conclave-vote", "agent/test-agent"])
def test_the_default_answers_easy_questions(client, model, question, pattern):
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        max_tokens=24,
        temperature=0,
        seed=7,
    )
    _check(reply.choices[0].message.content, pattern)


def test_the_readme_curl_question_gets_a_colour(client):
    reply = client.chat.completions.create(
        model="conclave-vote",
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=32,
        seed=7,
    )
    text = reply.choices[0].message.content
    colours = r"\b(red|blue|green|yellow|orange|purple|pink|black|white|brown|grey|gray|violet)\b"
    _check(text, colours)


def test_a_persona_system_message_still_gets_an_answer(client):
    reply = client.chat.completions.create(
        model="agent/test-agent",
        messages=[
            {"role": "system", "content": "You are a geography teacher."},
            {"role": "user", "content": "What is the capital of Italy?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    _check(reply.choices[0].message.content, r"\brome\b")


def test_the_instruction_tuned_bundled_model_is_served_by_its_short_name():
    settings = agent_settings(name="smol", model="smollm2-135m-instruct", slots=2)
    with RunningAgent(settings) as smol, grpc.insecure_channel(smol.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        question = pb.ChatMessage(role="user", content="What is the capital of France?")
        request = pb.GenerateRequest(messages=[question], max_tokens=48, temperature=0)
        events = list(stub.Generate(request, timeout=300))
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    assert events[0].started.model == "smollm2-135m-instruct-q4_1"
    text = "".join(e.delta.text for e in events if e.HasField("delta"))
    _check(text, r"\bparis\b")
    assert [m.id for m in info.models] == ["smollm2-135m-instruct-q4_1"]
    # It ships a chat template, but answers better in the completion format (measured).
    assert info.model.chat_format == "completion"
    assert "answers best" in info.model.chat_format_reason
