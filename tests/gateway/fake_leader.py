"""Stand-ins for the leader and the agents, for tests of the gateway's own HTTP behaviour
(validation, error shapes, limits) without running a model. The real stack is in
tests/e2e."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from conclave.agents.rpc import Embeddings, TokenCount
from conclave.errors import NotFound, Unavailable
from conclave.leader.client import RoundPage
from conclave.leader.events import CandidateText, RoundDecided, RoundEvent, RoundStarted
from conclave.leader.types import (
    AgentListing,
    Candidate,
    Decision,
    RoundRecord,
    RoundRequest,
    RoundSpec,
    VoteGroup,
)


def decided_round(spec: RoundSpec, round_id: str = "r1") -> RoundRecord:
    samples = spec.samples_per_participant or 1
    candidates = tuple(
        Candidate(
            participant="alpha",
            service="",
            sample_index=i,
            turn=0,
            text=f"answer {i}",
            finish_reason="stop",
            prompt_tokens=5,
            completion_tokens=2,
        )
        for i in range(samples)
    )
    return RoundRecord(
        id=round_id,
        created_at=1.0,
        request=RoundRequest(
            messages=spec.messages,
            strategy=spec.strategy,
            method=spec.method or "majority",
            tags=dict(spec.tags),
        ),
        participants=(),
        candidates=candidates,
        decision=Decision(
            method=spec.method or "majority",
            winner=0,
            answer="answer 0",
            agreement=1.0,
            groups=(VoteGroup(answer="answer 0", members=(0,), weight=1.0),),
        ),
        status="decided",
        wall_ms=1.0,
    )


class FakeLeader:
    address = "fake:1"

    def __init__(self) -> None:
        self.specs: list[RoundSpec] = []

    def check(self, spec: RoundSpec) -> None:
        if spec.participants and spec.participants[0] not in ("alpha", None):
            raise NotFound(f"unknown participant(s) {spec.participants[0]}")
        self.specs.append(spec)

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[RoundEvent]:
        self.check(spec)
        yield RoundStarted("r1", spec.strategy, spec.method or "majority", ("alpha",))
        yield CandidateText("alpha", 0, 0, "answer 0")
        yield RoundDecided(decided_round(spec))

    async def decide(self, spec: RoundSpec, *, timeout: float, on_event=None) -> RoundRecord:
        async for event in self.run_round(spec, timeout=timeout):
            if on_event is not None:
                await on_event(event)
            if isinstance(event, RoundDecided):
                return event.record
        raise AssertionError("the fake round ended without a decision")

    async def get_round(self, round_id: str) -> RoundRecord:
        if round_id != "r1":
            raise NotFound(f"round {round_id} not found")
        return decided_round(RoundSpec(messages=(), strategy="vote"))

    async def list_rounds(self, **filters: Any) -> RoundPage:
        return RoundPage(rounds=(), next_page_token="")

    async def list_agents(self) -> list[AgentListing]:
        return [
            AgentListing(
                name="a",
                address="127.0.0.1:1",
                source="static",
                participants=("alpha",),
                model="",
                error="",
            )
        ]

    async def healthy(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class FailingLeader(FakeLeader):
    """A round that starts, produces some text, then loses its quorum: the error can only
    go in-band."""

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[RoundEvent]:
        self.check(spec)
        yield RoundStarted("r2", spec.strategy, spec.method or "majority", ("alpha",))
        yield CandidateText("alpha", 0, 0, "answ")
        raise Unavailable("round r2 is short of its quorum: 0 of 1 answered")


class FakeAgents:
    async def embed(self, address: str, texts: Any, *, timeout: float) -> Embeddings:
        return Embeddings(vectors=[[0.0, 1.0] for _ in texts], prompt_tokens=len(texts), model="m")

    async def count_tokens(self, address: str, chat: Any, *, model: str, timeout: float):
        return TokenCount(tokens=sum(len(m.content.split()) + 4 for m in chat), context_size=1024)

    async def close(self) -> None:
        return None


class ChattyLeader(FakeLeader):
    """A strategy round whose participants keep producing token pieces (which a strategy
    stream does not forward) for `pieces` x `every_s` seconds before it is decided."""

    def __init__(self, pieces: int = 30, every_s: float = 0.02) -> None:
        super().__init__()
        self.pieces = pieces
        self.every_s = every_s

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[RoundEvent]:
        self.check(spec)
        yield RoundStarted("r1", spec.strategy, spec.method or "majority", ("alpha",))
        for _ in range(self.pieces):
            yield CandidateText("alpha", 0, 0, "tok ")
            await asyncio.sleep(self.every_s)
        yield RoundDecided(decided_round(spec))
