"""Continuous batching on the real model: equality, seeds, cancellation, back-pressure."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc
from tests.support.servers import RunningAgent, agent_settings, wait_for_idle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# Concurrency comes from threads with synchronous clients: the server already runs its own
# asyncio loop in this process, and grpc.aio does not support a second loop beside it.

PROMPTS = [
    "The history of the Roman Empire",
    "A recipe for bread:",
    "def fibonacci(n):",
    "Dear diary, today",
]


def greedy(prompt: str, max_tokens: int = 48) -> pb.GenerateRequest:
    return pb.GenerateRequest(
        prompt=prompt, max_tokens=max_tokens, temperature=0.0, ignore_eos=True
    )


def generate(address: str, request: pb.GenerateRequest) -> dict[int, list[int]]:
    """Token ids per sample index."""
    with grpc.insecure_channel(address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        tokens: dict[int, list[int]] = {}
        for event in stub.Generate(request, timeout=600):
            if event.HasField("delta"):
                tokens.setdefault(event.delta.index, []).extend(event.delta.token_ids)
        return tokens


def concurrently(*calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(fn, *args) for fn, *args in calls]
        return [f.result(timeout=600) for f in futures]


def test_greedy_alone_equals_greedy_in_a_batch(agent):
    alone = [generate(agent.address, greedy(p)) for p in PROMPTS]
    together = concurrently(*((generate, agent.address, greedy(p)) for p in PROMPTS))
    assert together == alone
    assert all(len(t[0]) == 48 for t in alone)


LONG_PROMPT = "Write a careful summary of the following notes. " + "The river rose in spring. " * 12


def test_greedy_alone_equals_greedy_in_a_wide_batch():
    """Calls of 8 rows and more (where ggml's kernels could change path), prompt chunks
    mixed with decode rows, and n = 2 siblings: the watched requests' tokens stay the same."""
    settings = agent_settings(name="wide-agent", slots=12, prefill_chunk=16)
    with RunningAgent(settings) as wide:
        watched = [greedy(PROMPTS[0], 40), greedy(LONG_PROMPT, 40)]
        alone = [generate(wide.address, request) for request in watched]
        others = [greedy(p, 40) for p in PROMPTS[1:]] * 2
        others.append(
            pb.GenerateRequest(prompt=PROMPTS[2], n=2, max_tokens=40, seed=7, ignore_eos=True)
        )  # 2 + 6 + 2 = 10 sequences, then the watched long prompt prefills beside them
        together = concurrently(*((generate, wide.address, r) for r in [*watched, *others]))
        assert together[: len(watched)] == alone
        assert all(len(t[0]) == 40 for t in alone)


def test_n4_with_a_seed_is_reproducible(agent):
    request = pb.GenerateRequest(
        prompt="Once upon a time", n=4, max_tokens=32, seed=2024, temperature=1.0, ignore_eos=True
    )
    first = generate(agent.address, request)
    second = generate(agent.address, request)
    assert sorted(first) == [0, 1, 2, 3]
    assert first == second
    assert len({tuple(v) for v in first.values()}) > 1  # the samples differ from each other


def test_cancelling_one_of_four_streams_leaves_the_others_intact(agent):
    expected = [generate(agent.address, greedy(p, 64)) for p in PROMPTS[:3]]

    def cancel_after_a_few_tokens() -> int:
        with grpc.insecure_channel(agent.address) as ch:
            call = agent_pb2_grpc.AgentServiceStub(ch).Generate(greedy(PROMPTS[3], 1000))
            seen = 0
            for event in call:
                if event.HasField("delta"):
                    seen += 1
                    if seen == 5:
                        call.cancel()
                        break
            return seen

    results = concurrently(
        *((generate, agent.address, greedy(p, 64)) for p in PROMPTS[:3]),
        (cancel_after_a_few_tokens,),
    )
    assert results[:3] == expected
    assert results[3] == 5
    wait_for_idle(agent)


@pytest.fixture(scope="module")
def one_slot():
    with RunningAgent(agent_settings(name="one-slot", slots=1)) as running:
        yield running


def next_request_queue_ms(stub) -> float:
    """How long a new request waited for the agent's only slot."""
    events = list(stub.Generate(greedy("Hello", 4), timeout=300))
    return events[-1].finished.timings.queue_ms


def test_a_cancelled_stream_frees_its_slot_at_once(one_slot):
    with grpc.insecure_channel(one_slot.address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        call = stub.Generate(greedy("Tell me everything about the sea", 1000))
        for event in call:
            if event.HasField("delta"):
                break
        call.cancel()
        # Had the cancelled 1000-token generation kept the only slot, the next request
        # would queue behind it for many seconds; freed at the next step, it starts at once.
        assert next_request_queue_ms(stub) < 1000
    wait_for_idle(one_slot)


def test_deadline_stops_the_generation(one_slot):
    with grpc.insecure_channel(one_slot.address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        with pytest.raises(grpc.RpcError) as info:
            for _ in stub.Generate(greedy("Write a long story", 1000), timeout=0.5):
                pass
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert next_request_queue_ms(stub) < 1000
    wait_for_idle(one_slot)


def test_a_burst_over_the_queue_bound_is_resource_exhausted():
    """2 slots + a queue of 2: of 7 simultaneous requests, 4 finish whole, 3 are refused."""
    settings = agent_settings(name="small-agent", slots=2, queue_limit=2)
    with RunningAgent(settings) as small, grpc.insecure_channel(small.address) as ch:
        stub = agent_pb2_grpc.AgentServiceStub(ch)
        # Hold both slots first, so the burst meets a full service whatever the timing.
        blockers = [stub.Generate(greedy(PROMPTS[i], 200)) for i in range(2)]
        for call in blockers:
            next(iter(call))
        wait = time.monotonic() + 5
        while stub.GetInfo(pb.GetInfoRequest()).slots_busy < 2 and time.monotonic() < wait:
            time.sleep(0.02)

        def one(i: int):
            try:
                return list(stub.Generate(greedy(PROMPTS[i % 4], 24), timeout=600))[-1].finished
            except grpc.RpcError as error:
                return error

        results = concurrently(*((one, i) for i in range(5)))
        blocked = [list(call)[-1].finished for call in blockers]
    refused = [r for r in results if isinstance(r, grpc.RpcError)]
    answered = [r for r in results if not isinstance(r, grpc.RpcError)] + blocked
    assert len(refused) == 3 and len(answered) == 4
    assert all(r.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for r in refused)
    assert all("retry" in r.details() for r in refused)
    assert all(f.usage.completion_tokens in (24, 200) for f in answered)


def test_at_debug_level_every_decode_call_is_logged_with_its_rows(agent, caplog):
    with caplog.at_level("DEBUG", logger="conclave.services.engine.scheduler"):
        concurrently(*((generate, agent.address, greedy(p, 4)) for p in PROMPTS[:2]))
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step: ")]
    # Two prompts, four tokens each: at least the prefill call and three decode calls.
    assert len(steps) >= 4
    assert all(" ms, " in s and "slot:rows" in s for s in steps)
    assert any(" 2 with logits" in s for s in steps)  # both sequences decode together
