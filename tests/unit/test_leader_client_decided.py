"""The leader client stops at the decided event: a leader still storing the round (its
stream open a while longer) does not hold up the answer, and the call is then ended.
A real gRPC server on 127.0.0.1:0 whose RunRound sends the decided round and then
waits until the client goes away."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from conclave.leader import convert
from conclave.leader.client import LeaderClient
from conclave.leader.events import RoundDecided, RoundStarted
from conclave.leader.types import RoundSpec
from conclave.v1 import leader_pb2_grpc
from tests.gateway.fake_leader import decided_round

pytestmark = pytest.mark.timeout(10)

SPEC = RoundSpec(messages=(("user", "2 + 2?"),), strategy="vote")


class StillStoring(leader_pb2_grpc.LeaderServiceServicer):
    def __init__(self) -> None:
        self.left = asyncio.Event()  # the client ended the call after the decided event

    async def RunRound(self, request, context):
        yield convert.round_event(RoundStarted("r1", "vote", "majority", ("alpha",)))
        yield convert.round_event(RoundDecided(decided_round(SPEC)))
        try:
            await asyncio.Event().wait()  # the record's write, taking its time
        finally:
            self.left.set()


@pytest.fixture
async def leader():
    servicer = StillStoring()
    server = grpc.aio.server()
    leader_pb2_grpc.add_LeaderServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    client = LeaderClient(f"127.0.0.1:{port}")
    yield client, servicer
    await client.close()
    await server.stop(0)


async def test_decide_returns_at_the_decided_event_and_ends_the_call(leader) -> None:
    client, servicer = leader
    record = await client.decide(SPEC, timeout=30)
    assert record.id == "r1" and record.status == "decided"
    await asyncio.wait_for(servicer.left.wait(), 5)


async def test_run_round_ends_with_the_decided_event(leader) -> None:
    client, servicer = leader
    events = [e async for e in client.run_round(SPEC, timeout=30)]
    assert [type(e) for e in events] == [RoundStarted, RoundDecided]
    await asyncio.wait_for(servicer.left.wait(), 5)
