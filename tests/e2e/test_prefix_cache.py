"""Prompt caching on a real agent: a prefix already in a slot's KV cache is not prefilled
again, and reusing it changes no output."""

from __future__ import annotations

import grpc
import pytest

from conclave.services.settings import AgentSettings
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import RunningAgent, agent_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Every chat prompt of the bundled model opens with the same preamble and examples.
QUESTIONS = (
    "What is the capital of Peru?",
    "What is 12 + 9?",
    "Name a colour.",
    "Which animal says moo?",
    "Name a country in Asia.",
)


def ask(stub, question: str, *, n: int = 1, model: str = "") -> tuple[list[str], pb.Usage]:
    request = pb.GenerateRequest(
        messages=[pb.ChatMessage(role="user", content=question)],
        max_tokens=12,
        temperature=0,
        n=n,
        model=model,
    )
    texts, usage = [""] * n, None
    for event in stub.Generate(request, timeout=300):
        if event.HasField("finished"):
            texts[event.finished.index] = event.finished.text
            usage = event.finished.usage
    return texts, usage


@pytest.fixture(scope="module")
def stubs():
    cached = RunningAgent(agent_settings(name="cached", slots=2))
    cold = RunningAgent(agent_settings(name="cold", slots=2, prefix_cache=False))
    with (
        cached,
        cold,
        grpc.insecure_channel(cached.address) as a,
        grpc.insecure_channel(cold.address) as b,
    ):
        yield agent_pb2_grpc.AgentServiceStub(a), agent_pb2_grpc.AgentServiceStub(b)


def test_a_cached_prefix_gives_the_same_greedy_tokens_as_a_cold_prefill(stubs):
    cached, cold = stubs
    for question in QUESTIONS:
        warm_texts, warm_usage = ask(cached, question, n=2)
        cold_texts, cold_usage = ask(cold, question, n=2)
        assert warm_texts == cold_texts, question
        assert cold_usage.cached_prompt_tokens == 0
    # After the first question, every prompt found the shared examples in a slot.
    chunk = AgentSettings().prefill_chunk
    assert warm_usage.cached_prompt_tokens >= 4 * chunk  # the preamble and examples
    assert warm_usage.cached_prompt_tokens % chunk == 0  # whole prefill chunks
    assert warm_usage.cached_prompt_tokens < warm_usage.prompt_tokens


def test_get_info_counts_cached_and_prefilled_prompt_tokens(stubs):
    cached, cold = stubs
    ask(cached, QUESTIONS[0])
    before = cached.GetInfo(pb.GetInfoRequest(), timeout=10)
    _, usage = ask(cached, QUESTIONS[0])
    after = cached.GetInfo(pb.GetInfoRequest(), timeout=10)
    grew_cached = after.prompt_tokens_cached_total - before.prompt_tokens_cached_total
    grew_prefilled = after.prompt_tokens_prefilled_total - before.prompt_tokens_prefilled_total
    assert grew_cached == usage.cached_prompt_tokens > 0
    assert grew_cached + grew_prefilled == usage.prompt_tokens
    assert cold.GetInfo(pb.GetInfoRequest(), timeout=10).prompt_tokens_cached_total == 0


def test_the_cache_never_serves_another_models_cells():
    # Two models over the same file: identical prompts, separate KV caches.
    models = [
        {"id": "first", "path": "bundled", "slots": 1, "context_size": 512},
        {"id": "second", "path": "bundled", "slots": 1, "context_size": 512},
    ]
    agent = RunningAgent(agent_settings(name="two-models", models=models))
    with agent, grpc.insecure_channel(agent.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        ask(stub, QUESTIONS[0], model="first")
        _, again = ask(stub, QUESTIONS[1], model="first")
        _, other = ask(stub, QUESTIONS[1], model="second")
    assert again.cached_prompt_tokens > 0
    assert other.cached_prompt_tokens == 0
