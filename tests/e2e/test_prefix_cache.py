"""Prompt caching on a real agent: a prefix already in a slot's KV cache, or in a running
request's, is not prefilled again, and reusing it changes no output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import RunningAgent, agent_settings, wait_for_idle

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


@contextmanager
def cached_and_cold(name: str, *, slots: int, cold_slots: int | None = None):
    """Stubs of two fresh agents alike but for the cache: (cached agent, its agent,
    cold agent). What the cold one answers is what the cached one must answer."""
    cached = RunningAgent(agent_settings(name=name, slots=slots))
    cold = RunningAgent(
        agent_settings(name=f"{name}-cold", slots=cold_slots or slots, prefix_cache=False)
    )
    with (
        cached,
        cold,
        grpc.insecure_channel(cached.address) as a,
        grpc.insecure_channel(cold.address) as b,
    ):
        yield agent_pb2_grpc.AgentServiceStub(a), cached, agent_pb2_grpc.AgentServiceStub(b)


@pytest.fixture(scope="module")
def stubs():
    with cached_and_cold("cached", slots=2) as (cached, _, cold):
        yield cached, cold


def test_a_cached_prefix_gives_the_same_greedy_tokens_as_a_cold_prefill(stubs):
    cached, cold = stubs
    for question in QUESTIONS:
        warm_texts, warm_usage = ask(cached, question, n=2)
        cold_texts, cold_usage = ask(cold, question, n=2)
        assert warm_texts == cold_texts, question
        assert cold_usage.cached_prompt_tokens == 0
    # After the first question, every prompt found the shared examples in a slot, up to
    # the token where the questions part (not rounded to whole prefill chunks).
    assert warm_usage.cached_prompt_tokens >= 128  # the preamble and examples
    assert warm_usage.cached_prompt_tokens < warm_usage.prompt_tokens


def test_a_prefix_cached_up_to_any_token_changes_no_output(stubs):
    # Prompts that share more and more of one text: the cached part ends at a different
    # offset inside a prefill chunk each time.
    cached, cold = stubs
    text = "Count the birds: one crow, two gulls, three owls, four doves, five wrens, six jays."
    offsets = set()
    for end in range(40, len(text), 6):
        question = text[:end] + " How many birds?"
        warm, usage = ask(cached, question)
        assert warm == ask(cold, question)[0], question
        offsets.add(usage.cached_prompt_tokens % 32)
    assert len(offsets) >= 4  # the reuse really ended at several places inside a chunk


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


# A long shared start, as when one question with a document goes to several voices.
DOCUMENT = (
    "Read the note, then answer. The river town has a market on Mondays, a school by the "
    "old mill and a grey stone bridge that people call the long bridge. "
) * 4


def ask_document(stub, question: str) -> tuple[str, pb.Usage]:
    texts, usage = ask(stub, DOCUMENT + question)
    return texts[0], usage


def test_requests_sent_together_share_one_prefill_of_their_common_start():
    # Two, and a document of four repeats (over 256 tokens): before the KV cache was BF16
    # (engine/context_setup.py), "What is built of stone?" answered otherwise beside the
    # other request than alone.
    questions = ("What is built of stone?", "When is the market?")
    # A fresh agent: nothing in its slots, so only a running request can lend its cells.
    with (
        cached_and_cold("together", slots=2) as (stub, _, cold_stub),
        ThreadPoolExecutor(len(questions)) as pool,
    ):
        together = list(pool.map(lambda q: ask_document(stub, q), questions))
        alone = [ask_document(cold_stub, q)[0] for q in questions]
        info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    assert [text for text, _ in together] == alone
    prompt = sum(u.prompt_tokens for _, u in together)
    cached = sum(u.cached_prompt_tokens for _, u in together)
    # The second copied the document from the first instead of prefilling it.
    assert cached >= 0.8 * min(u.prompt_tokens for _, u in together)
    assert info.prompt_tokens_cached_total == cached
    assert info.prompt_tokens_prefilled_total == prompt - cached


def test_a_slot_reused_for_another_prompt_no_longer_serves_the_old_one():
    agent = RunningAgent(agent_settings(name="one-slot", slots=1))
    with agent, grpc.insecure_channel(agent.address) as channel:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        first, _ = ask_document(stub, "When is the market?")
        again, kept = ask_document(stub, "When is the market?")
        ask(stub, "Name a colour.")  # takes the only slot: the document's cells go
        after, evicted = ask_document(stub, "When is the market?")
    assert first == again == after
    assert kept.cached_prompt_tokens == kept.prompt_tokens - 1  # all but the last token
    # Only the chat format's shared opening is still there, not the document.
    assert evicted.cached_prompt_tokens < kept.cached_prompt_tokens - 60


def test_a_request_waiting_for_a_cancelled_ones_cells_still_answers_right():
    with (
        cached_and_cold("lender-goes", slots=2, cold_slots=1) as (stub, agent, cold_stub),
        ThreadPoolExecutor(1) as pool,
    ):
        expected = ask_document(cold_stub, "When is the market?")[0]
        lender = stub.Generate(
            pb.GenerateRequest(
                messages=[
                    pb.ChatMessage(role="user", content=DOCUMENT + "What is built of stone?")
                ],
                max_tokens=12,
                temperature=0,
            ),
            timeout=300,
        )
        next(lender)  # the stream is open: the agent has the lender's request
        follower = pool.submit(ask_document, stub, "When is the market?")
        lender.cancel()  # while or before the follower waits for the lender's cells
        text, _ = follower.result(timeout=300)
        wait_for_idle(agent)  # both slots free: the cancelled lender's too
    assert text == expected


def test_a_prefix_of_a_slot_that_ran_past_the_sliding_window_answers_as_cold():
    # Gemma 3 attends over a 512-token window in most layers. The slot first holds a
    # prompt of about 900 tokens; the next prompt shares only its first ~370, more than a
    # window behind the slot's last cell. The reuse answers as a cold agent only if the
    # slot still holds those cells (llama.cpp's full-size window cache keeps them; the
    # scheduler's `_whole` checks it before reusing).
    long_prompt = "Read the note. " + DOCUMENT * 5 + "What is built of stone?"
    short_prompt = "Read the note. " + DOCUMENT + "When is the market?"
    with cached_and_cold("window", slots=1) as (stub, _, cold_stub):
        _, long_usage = ask(stub, long_prompt)
        reused, usage = ask(stub, short_prompt)
        cold, _ = ask(cold_stub, short_prompt)
    assert long_usage.prompt_tokens > usage.cached_prompt_tokens + 512
    assert usage.cached_prompt_tokens > usage.prompt_tokens - 30  # all but the question
    assert reused == cold
