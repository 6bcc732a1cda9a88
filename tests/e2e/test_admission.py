"""Admission control on the real stack: work an agent cannot finish before its caller's
deadline is refused at once (RESOURCE_EXHAUSTED; through the gateway a 429 with
Retry-After), counted, and never stored as a round; work that fits still queues."""

from __future__ import annotations

import grpc
import httpx
import pytest

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

NAME = "one-slot"
# Holds the only slot: ignore_eos runs it to max_tokens, which admission control knows.
BLOCKER = pb.GenerateRequest(
    prompt="Once upon a time", max_tokens=900, temperature=0.0, ignore_eos=True
)


@pytest.fixture(scope="module")
def one_slot():
    with RunningAgent(agent_settings(name=NAME, slots=1, queue_limit=8)) as running:
        yield running


@pytest.fixture
def stub(one_slot):
    with grpc.insecure_channel(one_slot.address) as channel:
        yield agent_pb2_grpc.AgentServiceStub(channel)


def _hold_the_slot(stub) -> grpc.Future:
    """Starts the blocker and returns once it is decoding (so a step time is measured)."""
    call = stub.Generate(BLOCKER, timeout=600)
    deltas = 0
    for event in call:
        deltas += event.HasField("delta")
        if deltas >= 20:
            return call
    raise AssertionError("the blocker ended before it was decoding")


def _refused(stub) -> int:
    return stub.GetInfo(pb.GetInfoRequest(), timeout=10).requests_refused_total


def test_work_that_cannot_finish_before_its_deadline_is_refused_at_once(stub):
    before = _refused(stub)
    blocker = _hold_the_slot(stub)
    try:
        short = pb.GenerateRequest(prompt="Hello", max_tokens=32, temperature=0.0)
        with pytest.raises(grpc.RpcError) as refused:
            list(stub.Generate(short, timeout=3))
        # Refused up front, not left to wait out its deadline (DEADLINE_EXCEEDED).
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "in time" in refused.value.details(), refused.value.details()
        hint = dict(refused.value.trailing_metadata())["retry-after-s"]
        assert float(hint) >= 1
        assert _refused(stub) == before + 1
        # The same request with time to wait is queued behind the blocker, and answered.
        patient = stub.Generate(short, timeout=600)
        blocker.cancel()
        finished = [e.finished for e in patient if e.HasField("finished")]
        assert finished and finished[0].usage.completion_tokens > 0
        assert _refused(stub) == before + 1
    finally:
        blocker.cancel()


def test_through_the_gateway_it_is_a_prompt_429_counted_and_not_stored(one_slot, stub, tmp_path):
    leader = RunningLeader(leader_settings(tmp_path / "rounds.db", agents=[one_slot.address]))
    with leader, RunningGateway(gateway_settings(leader.address)) as gateway:
        body = {
            "model": f"agent/{NAME}",
            "messages": [{"role": "user", "content": "Name a colour."}],
            "max_tokens": 8,
            "stream": True,
            "conclave": {"tags": {"case": "admission"}},
        }
        # One second to answer: far less than the blocker still needs of the only slot.
        hurried = {**body, "conclave": {**body["conclave"], "participant_timeout_s": 1}}
        url = f"{gateway.url}/v1/chat/completions"

        def stored() -> int:
            listed = httpx.get(f"{gateway.url}/v1/rounds", params={"tag": "case=admission"})
            return len(listed.json()["data"])

        assert httpx.post(url, json=body, timeout=120).status_code == 200  # an idle agent
        assert stored() == 1
        blocker = _hold_the_slot(stub)
        try:
            response = httpx.post(url, json=hurried, timeout=120)
        finally:
            blocker.cancel()
        assert response.status_code == 429, response.text
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "overloaded"
        assert stored() == 1  # the refusal is no round
        metrics = httpx.get(f"{gateway.url}/metrics").text
        assert 'conclave_gateway_refused_total{reason="agents_busy"} 1.0' in metrics
