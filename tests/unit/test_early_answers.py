"""A settled vote is answered before its record is written (scripted agents, a real store
whose final write is held back): the decided event does not wait for the disk nor for
a straggler, the straggler is recorded as stopped, and readers of the store wait for
the write instead of seeing the round half done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conclave.errors import Unavailable
from conclave.leader.discovery.directory import AgentDirectory, AgentEntry
from conclave.leader.events import CandidateDone, RoundDecided
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.pending_writes import PendingWrites
from conclave.leader.rounds import RoundRunner
from conclave.leader.store import RoundStore
from conclave.leader.strategies.vote import vote_strategy
from conclave.leader.types import RoundRecord, RoundRequest
from conclave.services.engine.types import (
    Delta,
    Finished,
    FinishReason,
    GenerationRequest,
    Timings,
    Usage,
)

pytestmark = pytest.mark.timeout(10)

AGENTS = ("a", "b", "c")  # a and b answer at once; c says a word, then never finishes


class ScriptedClients:
    def __init__(self) -> None:
        self.straggler_stopped = asyncio.Event()

    async def generate(
        self, address: str, request: GenerationRequest, *, timeout: float
    ) -> AsyncIterator[Delta | Finished]:
        name = address.split(":")[0]
        if name == "c":
            yield Delta(index=0, text="Let me", token_ids=(1,))
            try:
                await asyncio.Event().wait()  # still generating when the vote is settled
            finally:
                self.straggler_stopped.set()
        await asyncio.sleep(0)
        yield Delta(index=0, text="4", token_ids=(1,))
        yield Finished(
            index=0,
            reason=FinishReason.STOP,
            text="4",
            usage=Usage(prompt_tokens=3, completion_tokens=1),
            timings=Timings(0.0, 1.0, 1.0, 1.0, 3.0),
        )


class HeldStore(RoundStore):
    """A real store whose write of a whole round waits until `release` is set."""

    release: asyncio.Event
    fail: bool = False

    async def save_async(self, record: RoundRecord, **kwargs: object) -> None:
        await self.release.wait()
        if self.fail:
            raise Unavailable("disk gone")
        await super().save_async(record, **kwargs)  # type: ignore[arg-type]


def runner(tmp_path: Path) -> tuple[RoundRunner, ScriptedClients, HeldStore]:
    directory = AgentDirectory()
    for name in AGENTS:
        directory.add(AgentEntry(address=f"{name}:50051", name=name, source="static"))
    store = HeldStore.open(tmp_path / "rounds.db")
    store.release = asyncio.Event()
    clients = ScriptedClients()
    run = RoundRunner(
        clients=clients,  # type: ignore[arg-type]
        store=store,
        participants=ParticipantRegistry(directory, configured=(), per_agent=1),
        strategies={"vote": vote_strategy},
    )
    return run, clients, store


async def turns() -> None:
    """Lets every ready task of the loop run a while (no clock involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


ASK = RoundRequest(messages=(("user", "2 + 2?"),), strategy="vote")


async def test_the_decided_event_comes_before_the_record_is_written(tmp_path: Path) -> None:
    run, clients, store = runner(tmp_path)
    events = run.run(ASK)
    seen = []
    async for event in events:
        seen.append(event)
        if isinstance(event, RoundDecided):
            break
    decided = seen[-1].record
    assert decided.status == "decided" and decided.decision.answer == "4"
    assert clients.straggler_stopped.is_set()
    straggler = next(c for c in decided.candidates if c.participant == "c")
    assert straggler.finish_reason == "cancelled" and straggler.text == "Let me"
    assert not straggler.ok  # its words so far are kept, not counted
    # The stopped straggler was streamed before the decision, as every candidate is.
    done = [e.candidate.participant for e in seen if isinstance(e, CandidateDone)]
    assert sorted(done) == ["a", "b", "c"] and done[-1] == "c"

    # The answer is out; the store still shows the round running, and a reader waits.
    assert store.get(decided.id).status == "running"
    reader = asyncio.ensure_future(run.stored(decided.id))
    await turns()
    assert not reader.done()
    ending = asyncio.ensure_future(anext(events, None))  # the stream ends after the write
    await turns()
    assert not ending.done()

    store.release.set()
    await reader
    assert await ending is None
    assert store.get(decided.id) == decided


async def test_a_caller_that_leaves_with_the_answer_does_not_cut_the_write_short(
    tmp_path: Path,
) -> None:
    run, _, store = runner(tmp_path)
    events = run.run(ASK)
    async for event in events:
        if isinstance(event, RoundDecided):
            break
    await events.aclose()  # what a cancelled RunRound does to the runner
    store.release.set()
    await run.all_stored()
    assert store.get(event.record.id) == event.record


async def test_a_write_that_fails_after_the_answer_ends_the_stream_with_the_error(
    tmp_path: Path,
) -> None:
    run, _, store = runner(tmp_path)
    store.fail = True
    events = run.run(ASK)
    async for event in events:
        if isinstance(event, RoundDecided):
            break
    store.release.set()
    with pytest.raises(Unavailable, match="disk gone"):
        await anext(events)
    await run.stored(event.record.id)  # waiting for a failed write does not raise


async def test_pending_writes_wait_for_the_ones_in_flight_only() -> None:
    writes = PendingWrites()
    gate = asyncio.Event()
    task = writes.start("r1", gate.wait())
    assert writes.pending("r1") and not writes.pending("r2")
    await writes.wait("r2")  # nothing in flight under that id: at once
    waiting = asyncio.ensure_future(writes.wait_all())
    await turns()
    assert not waiting.done()
    gate.set()
    await waiting
    assert task.done() and not writes.pending("r1")
