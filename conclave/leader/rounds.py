"""A round from request to stored record: strategy turns, the vote, the quorum, the store.

Every round that starts is stored, whatever happens: decided, short of its quorum, or
failed (a bug, the caller went away). It is on disk from its start (status running,
each candidate added as it arrives), so a leader that dies mid-round leaves the round
and what was heard; the next leader marks it interrupted. The outcome replaces that
record in one transaction, so a reader sees the round running or whole, never half
decided. A decided round's answer is sent before that write, not after it (a vote
settled early answers at once, whatever the disk); GetRound and ListRounds wait for
the write in flight (pending_writes.py). One kind of round is not kept: one every
participant refused as busy — that is a 429 for the caller to retry (counted in
metrics), not a round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError, InvalidRequest, Overloaded, Unavailable
from conclave.leader.early_stop import outcome_settled
from conclave.leader.events import CandidateDone, RoundDecided, RoundEvent, RoundStarted
from conclave.leader.fanout import CANCELLED, Settled, TurnSpec, fan_out, sampling_for, with_persona
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.pending_writes import PendingWrites
from conclave.leader.store import RUNNING, RoundStore
from conclave.leader.structured import PLAIN, OutputSpec
from conclave.leader.types import Candidate, Decision, Participant, RoundRecord, RoundRequest
from conclave.leader.voting import (
    VoteParams,
    extract_answer,
    get_method,
    judge_prompt,
    parse_judge_reply,
)
from conclave.services.engine.types import ChatMessage, SamplingParams

log = logging.getLogger(__name__)

MAX_SAMPLES = 16
JUDGE_MAX_TOKENS = 24  # the judge repeats an answer (or names its number)


@dataclass
class RoundContext:
    """What a strategy works with. Every turn it runs is recorded here."""

    round_id: str
    request: RoundRequest
    participants: list[Participant]
    clients: AgentClients
    emit: Callable[[RoundEvent], None]
    vote_params: VoteParams
    candidates: list[Candidate] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # The form of the answers: their grammar, the instructions, how replies read.
    output: OutputSpec = PLAIN

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        """The round's conversation as the voices read it: the request's messages, with
        the answer's instructions (a structured round's) closing the leading system text."""
        messages = [ChatMessage(role, content) for role, content in self.request.messages]
        instructions = self.output.instructions()
        if instructions:
            if messages and messages[0].role == "system":
                first = messages[0]
                messages[0] = ChatMessage("system", f"{first.content}\n\n{instructions}")
            else:
                messages.insert(0, ChatMessage("system", instructions))
        return tuple(messages)

    def spec(
        self, participant: Participant, messages: Sequence[ChatMessage], *, samples: int = 1
    ) -> TurnSpec:
        r = self.request
        return TurnSpec(
            participant=participant,
            messages=with_persona(participant, messages),
            samples=samples,
            sampling=sampling_for(
                participant,
                max_tokens=r.max_tokens,
                temperature=r.temperature,
                top_p=r.top_p,
                seed=r.seed,
                samples=samples,
                stop=r.stop,
            ),
            constraint=self.output.constraint(),
        )

    def early_stop(self) -> Settled | None:
        method = self.request.method
        output = self.output

        def settled(done: Sequence[Candidate], outstanding: Sequence[str]) -> bool:
            # A reply that is no valid answer (cut off mid-JSON) is no vote.
            votes = [c for c in done if output.votable(c)]
            return outcome_settled(method, votes, outstanding, self.vote_params)

        return settled

    async def turn(
        self, specs: Sequence[TurnSpec], *, turn: int, settled: Settled | None = None
    ) -> list[Candidate]:
        start = time.perf_counter()
        got = await fan_out(
            self.clients,
            specs,
            round_id=self.round_id,
            turn=turn,
            timeout_s=self.request.participant_timeout_s,
            emit=self.emit,
            settled=settled,
        )
        self.timings[f"turn_{turn}_ms"] = (time.perf_counter() - start) * 1000
        self.candidates.extend(got)
        return got


# A strategy runs its turns and returns the candidates the vote is over.
Strategy = Callable[[RoundContext], Awaitable[list[Candidate]]]


def new_round_id() -> str:
    """Time-ordered (ms since the epoch, then random bits), so ids sort like rounds."""
    return f"{int(time.time() * 1000):012x}{os.urandom(6).hex()}"


class RoundRunner:
    def __init__(
        self,
        *,
        clients: AgentClients,
        store: RoundStore,
        participants: ParticipantRegistry,
        strategies: Mapping[str, Strategy],
        max_participants: int = 64,
    ) -> None:
        self._clients = clients
        self._store = store
        self._participants = participants
        self._strategies = dict(strategies)
        self._max_participants = max_participants
        self._writes = PendingWrites()

    async def stored(self, round_id: str) -> None:
        """Until a decided round's record, if it is being written now, is on disk."""
        await self._writes.wait(round_id)

    async def all_stored(self) -> None:
        """Until every decided round's record being written now is on disk."""
        await self._writes.wait_all()

    @property
    def strategies(self) -> tuple[str, ...]:
        return tuple(self._strategies)

    def _validate(self, request: RoundRequest) -> tuple[Strategy, OutputSpec]:
        strategy = self._strategies.get(request.strategy)
        if strategy is None:
            raise InvalidRequest(
                f"unknown strategy {request.strategy!r}; known: {', '.join(self._strategies)}",
                field="strategy",
            )
        get_method(request.method)
        if not request.messages:
            raise InvalidRequest("messages must not be empty", field="messages")
        if not 1 <= request.samples_per_participant <= MAX_SAMPLES:
            raise InvalidRequest(
                f"samples_per_participant must be between 1 and {MAX_SAMPLES}",
                field="samples_per_participant",
            )
        if request.quorum < 1:
            raise InvalidRequest("quorum must be at least 1", field="quorum")
        if request.participant_timeout_s <= 0:
            raise InvalidRequest(
                "participant_timeout_s must be positive", field="participant_timeout_s"
            )
        if request.max_tokens < 1:
            raise InvalidRequest("max_tokens must be at least 1", field="max_tokens")
        return strategy, OutputSpec.of(request)

    async def run(self, request: RoundRequest) -> AsyncIterator[RoundEvent]:
        """Streams the round's events; raises Unavailable (after storing the round) when
        fewer usable answers than the quorum came back."""
        strategy, output = self._validate(request)
        participants = self._participants.select(request.participants)
        if len(participants) > self._max_participants:
            raise InvalidRequest(
                f"{len(participants)} participants; this leader allows {self._max_participants}",
                field="participants",
            )
        # A quorum no round of these participants can reach is refused before it runs
        # (it used to run the whole round and then fail with 503).
        reachable = len(participants) * request.samples_per_participant
        if request.quorum > reachable:
            raise InvalidRequest(
                f"quorum {request.quorum} cannot be reached: {len(participants)} "
                f"participant(s) x {request.samples_per_participant} sample(s) give at most "
                f"{reachable} answers",
                field="quorum",
            )
        params = dict(request.params)
        if output.structured:
            # Structured answers vote on their canonical JSON unless the request says how.
            params.setdefault("extract", "json")
        vote_params = VoteParams.from_request(
            params, weights={p.name: p.weight for p in participants}
        )
        queue: asyncio.Queue[RoundEvent] = asyncio.Queue()
        ctx = RoundContext(
            round_id=new_round_id(),
            request=request,
            participants=participants,
            clients=self._clients,
            emit=queue.put_nowait,
            vote_params=vote_params,
            output=output,
        )
        created_at = time.time()
        start = time.perf_counter()
        # On disk before anyone hears its id: a leader that dies from here on leaves it.
        await self._store.begin_async(self._running(ctx, created_at))
        yield RoundStarted(
            ctx.round_id, request.strategy, request.method, tuple(p.name for p in participants)
        )
        work = asyncio.create_task(self._decide(ctx, strategy))
        saved = False
        heard = 0
        try:
            while not (work.done() and queue.empty()):
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, work}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    event = getter.result()
                    if isinstance(event, CandidateDone):
                        if event.candidate.finish_reason != CANCELLED:
                            # A straggler stopped because the outcome is settled is not
                            # written alone: the decided record holds it a moment later,
                            # and the answer need not wait for one more write.
                            await self._keep(ctx, heard, event.candidate)
                        heard += 1
                    yield event
                else:
                    getter.cancel()
            decision = work.result()
            record = self._record(ctx, created_at, start, decision)
            error = _quorum_error(record) if record.status == "no_quorum" else None
            if isinstance(error, Overloaded):
                # Every voice was busy: a refusal to retry, not a round worth keeping.
                await self._store.discard_async(ctx.round_id)
                saved = True
                raise error
            if error is not None:
                await self._store.save_async(record, answers=self._answers(ctx), replace=True)
                saved = True
                raise error
            # The answer cannot change any more: the caller gets it now, and the record
            # (the same one) is written meanwhile, in a task a hang-up cannot cut short.
            # GetRound and ListRounds wait for that write; the stream ends after it.
            write = self._writes.start(
                ctx.round_id,
                self._store.save_async(record, answers=self._answers(ctx), replace=True),
            )
            saved = True
            yield RoundDecided(record)
            await asyncio.shield(write)
        finally:
            if not saved:
                # A bug, or the caller went away: keep what was heard, marked failed.
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                failed = self._record(ctx, created_at, start, None)
                await asyncio.shield(
                    self._store.save_async(failed, answers=self._answers(ctx), replace=True)
                )

    def _running(self, ctx: RoundContext, created_at: float) -> RoundRecord:
        return RoundRecord(
            id=ctx.round_id,
            created_at=created_at,
            request=ctx.request,
            participants=tuple(ctx.participants),
            candidates=(),
            decision=Decision(
                method=ctx.request.method, winner=None, answer="", detail="not decided yet"
            ),
            status=RUNNING,
        )

    async def _keep(self, ctx: RoundContext, position: int, candidate: Candidate) -> None:
        """Stores a candidate of the running round as it arrives. A store that fails here
        does not stop the round: the final record is written whole anyway."""
        answer = extract_answer(candidate.text, ctx.vote_params.extract) if candidate.ok else ""
        try:
            await self._store.add_candidate_async(ctx.round_id, position, candidate, answer)
        except ConclaveError as error:
            log.warning("round %s: candidate %d not stored yet: %s", ctx.round_id, position, error)

    async def _decide(self, ctx: RoundContext, strategy: Strategy) -> Decision:
        heard = await strategy(ctx)
        # Replies that are no valid answer of the round's form (cut off mid-JSON, outside
        # a strict schema) do not vote; the record keeps them.
        voters = [c for c in heard if ctx.output.votable(c)]
        left_out = sum(1 for c in heard if c.ok) - len(voters)
        method = get_method(ctx.request.method)
        params = ctx.vote_params
        judged = ""
        if method.needs_embeddings:
            params = replace(params, embeddings=await self._embeddings(ctx, voters))
        if method.needs_judge:
            choice, reply = await self._ask_judge(ctx, voters)
            params = replace(params, judge_choice=choice)
            judged = f" Judge said: {reply[:200]!r}"
        decision = method.vote(voters, params)
        if judged:
            decision = replace(decision, detail=decision.detail + judged)
        if left_out:
            decision = replace(
                decision,
                detail=f"{decision.detail} {left_out} reply(ies) gave no valid answer of the "
                "response format and did not vote.",
            )
        return _reindex(decision, voters, ctx.candidates)

    async def _embeddings(
        self, ctx: RoundContext, voters: list[Candidate]
    ) -> list[list[float]] | None:
        """Embeddings from the first participant's agent; lexical similarity otherwise."""
        texts = [c.text for c in voters]
        if not any(texts):
            return None
        try:
            return (await self._clients.embed(ctx.participants[0].address, texts)).vectors
        except ConclaveError as error:
            log.warning("round %s: no embeddings (%s); lexical similarity", ctx.round_id, error)
            return None

    async def _ask_judge(
        self, ctx: RoundContext, voters: list[Candidate]
    ) -> tuple[int | None, str]:
        name = ctx.request.params.get("judge") or ctx.participants[0].name
        judge = next((p for p in ctx.participants if p.name == name), None)
        if judge is None:
            judge = self._participants.select([name])[0]
        question = "\n".join(content for role, content in ctx.request.messages if role == "user")
        spec = TurnSpec(
            participant=judge,
            messages=(ChatMessage("user", judge_prompt(question, voters)),),
            samples=1,
            sampling=SamplingParams(max_tokens=JUDGE_MAX_TOKENS, temperature=0.0),
        )
        replies = await fan_out(
            self._clients,
            [spec],
            round_id=ctx.round_id,
            turn=-1,
            timeout_s=ctx.request.participant_timeout_s,
            emit=lambda _: None,
        )
        reply = replies[0].text if replies and replies[0].ok else ""
        return parse_judge_reply(reply, voters, ctx.vote_params.extract), reply

    def _answers(self, ctx: RoundContext) -> list[str]:
        return [
            extract_answer(c.text, ctx.vote_params.extract) if c.ok else "" for c in ctx.candidates
        ]

    def _record(
        self, ctx: RoundContext, created_at: float, start: float, decision: Decision | None
    ) -> RoundRecord:
        last = _last_turn(ctx.candidates)
        usable = sum(c.answered for c in ctx.candidates if c.turn == last)
        quorum = ctx.request.quorum
        if decision is None:
            status, error = "failed", "the round was interrupted before a decision"
            decision = Decision(
                method=ctx.request.method,
                winner=None,
                answer="",
                detail="no decision: the round was interrupted",
            )
        elif usable < quorum:
            reasons = sorted({f"{c.participant}: {c.error}" for c in ctx.candidates if c.error})
            status = "no_quorum"
            error = f"only {usable} usable answer(s), quorum is {quorum}" + (
                f" ({'; '.join(reasons)})" if reasons else ""
            )
        else:
            status, error = "decided", ""
        return RoundRecord(
            id=ctx.round_id,
            created_at=created_at,
            request=ctx.request,
            participants=tuple(ctx.participants),
            candidates=tuple(ctx.candidates),
            decision=decision,
            status=status,
            error=error,
            wall_ms=(time.perf_counter() - start) * 1000,
            timings=dict(ctx.timings),
        )


def _quorum_error(record: RoundRecord) -> ConclaveError:
    """Busy agents are a reason to retry (RESOURCE_EXHAUSTED); a request every agent
    rejected is the caller's to fix (INVALID_ARGUMENT); anything else is UNAVAILABLE."""
    missing = [c for c in record.candidates if not c.ok]
    message = f"round {record.id}: {record.error}"
    if missing and all(c.finish_reason == "overloaded" for c in missing):
        # Not stored (see RoundRunner.run), so the message names no round id.
        return Overloaded(f"every participant is busy: {record.error}; retry later")
    if missing and all(c.finish_reason == "rejected" for c in missing):
        return InvalidRequest(message)
    return Unavailable(message)


def _last_turn(candidates: Sequence[Candidate]) -> int:
    return max((c.turn for c in candidates), default=0)


def _reindex(decision: Decision, voters: list[Candidate], everyone: list[Candidate]) -> Decision:
    """Voting saw only `voters`; the record indexes into every candidate of the round."""
    if voters is everyone or voters == everyone:
        return decision
    position = {id(c): i for i, c in enumerate(everyone)}
    mapping = [position[id(c)] for c in voters]
    return replace(
        decision,
        winner=None if decision.winner is None else mapping[decision.winner],
        groups=tuple(
            replace(g, members=tuple(mapping[m] for m in g.members)) for g in decision.groups
        ),
    )


__all__ = ["CandidateDone", "RoundContext", "RoundRunner", "Strategy"]
