"""One turn of a round: the same kind of request to many participants at once.

Each participant gets its own deadline. Every sample ends as a Candidate — an answer, or
the reason it is missing (timeout, error, cancelled) — so a round record always accounts
for everyone it asked. A `settled` predicate lets the caller stop stragglers as soon as
their answers can no longer change the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError, InvalidRequest, Overloaded
from conclave.leader.events import CandidateDone, CandidateText, RoundEvent
from conclave.leader.types import Candidate, Participant
from conclave.services.engine.types import (
    NO_CONSTRAINT,
    ChatMessage,
    Constraint,
    Delta,
    Finished,
    GenerationRequest,
    SamplingParams,
)

log = logging.getLogger(__name__)

CANCELLED = "cancelled"  # a sample stopped unfinished: the outcome was settled, or the caller left
Emit = Callable[[RoundEvent], None]
# (candidates done so far, participants of the samples still out) -> stop the rest?
Settled = Callable[[Sequence[Candidate], Sequence[str]], bool]


@dataclass(frozen=True, slots=True)
class TurnSpec:
    """What one participant is asked in a turn."""

    participant: Participant
    messages: tuple[ChatMessage, ...]
    samples: int
    sampling: SamplingParams
    constraint: Constraint = NO_CONSTRAINT  # the grammar of a structured answer


def sampling_for(
    participant: Participant,
    *,
    max_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
    samples: int,
    stop: tuple[str, ...] = (),
) -> SamplingParams:
    """A round's sampling with the participant's overrides. Seeds differ per participant
    (by its seed offset, times the samples it draws) so voices on one agent disagree."""
    return SamplingParams(
        max_tokens=participant.max_tokens or max_tokens,
        temperature=participant.temperature if participant.temperature is not None else temperature,
        top_p=participant.top_p if participant.top_p is not None else top_p,
        seed=None if seed is None else seed + participant.seed_offset * samples,
        stop=stop,
    )


def with_persona(participant: Participant, messages: Sequence[ChatMessage]) -> tuple:
    if not participant.system_prompt:
        return tuple(messages)
    return (ChatMessage("system", participant.system_prompt), *messages)


async def fan_out(
    clients: AgentClients,
    specs: Sequence[TurnSpec],
    *,
    round_id: str,
    turn: int,
    timeout_s: float,
    emit: Emit,
    settled: Settled | None = None,
) -> list[Candidate]:
    """Asks every spec concurrently; returns candidates in spec order, samples in order."""
    started = time.perf_counter()
    done: list[Candidate] = []
    outstanding = {s.participant.name: s.samples for s in specs}

    stopping = False

    def record(candidate: Candidate) -> None:
        nonlocal stopping
        done.append(candidate)
        outstanding[candidate.participant] -= 1
        emit(CandidateDone(candidate))
        if settled and tasks and not stopping and settled(done, _expand(outstanding)):
            # Once only, and never the task recording now: it still owes its answers.
            stopping = True
            current = asyncio.current_task()
            for task in tasks:
                if task is not current and not task.done():
                    task.cancel()

    tasks: list[asyncio.Task] = []
    tasks.extend(
        asyncio.create_task(_ask(clients, spec, round_id, turn, started, timeout_s, emit, record))
        for spec in specs
    )
    results = await asyncio.gather(*tasks, return_exceptions=True)
    candidates: list[Candidate] = []
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, BaseException):
            # A bug, not a participant failure: still account for every sample asked.
            log.error("participant %s failed unexpectedly", spec.participant.name, exc_info=result)
            reason = CANCELLED if isinstance(result, asyncio.CancelledError) else "error"
            result = [
                Candidate(
                    participant=spec.participant.name,
                    service=spec.participant.service,
                    sample_index=i,
                    text="",
                    finish_reason=reason,
                    error=f"internal error: {type(result).__name__}",
                    turn=turn,
                )
                for i in range(spec.samples)
            ]
        candidates.extend(result)
    return candidates


def _expand(outstanding: dict[str, int]) -> list[str]:
    return [name for name, count in outstanding.items() for _ in range(count)]


async def _ask(
    clients: AgentClients,
    spec: TurnSpec,
    round_id: str,
    turn: int,
    started: float,
    timeout_s: float,
    emit: Emit,
    record: Callable[[Candidate], None],
) -> list[Candidate]:
    participant = spec.participant
    request = GenerationRequest(
        request_id=f"{round_id}.{turn}.{participant.name}",
        model=participant.model,
        messages=spec.messages,
        n=spec.samples,
        sampling=spec.sampling,
        constraint=spec.constraint,
    )
    first_token: dict[int, float] = {}
    finished: dict[int, Candidate] = {}
    # What a sample had said when it was stopped: a cancelled straggler's record keeps
    # its text so far (it does not vote: only a finished answer does).
    said: dict[int, list[str]] = {}

    def missing(reason: str, error: str) -> None:
        for index in range(spec.samples):
            if index not in finished:
                finished[index] = Candidate(
                    participant=participant.name,
                    service=participant.service,
                    sample_index=index,
                    text="".join(said.get(index, ())) if reason == CANCELLED else "",
                    finish_reason=reason,
                    error=error,
                    latency_ms=_ms_since(started),
                    turn=turn,
                )
                record(finished[index])

    try:
        async with asyncio.timeout(timeout_s):
            async for event in clients.generate(
                participant.address, request, timeout=timeout_s + 5
            ):
                if isinstance(event, Delta):
                    first_token.setdefault(event.index, _ms_since(started))
                    if event.text:
                        said.setdefault(event.index, []).append(event.text)
                        emit(CandidateText(participant.name, event.index, turn, event.text))
                elif isinstance(event, Finished):
                    finished[event.index] = Candidate(
                        participant=participant.name,
                        service=participant.service,
                        sample_index=event.index,
                        text=event.text,
                        finish_reason=event.reason.value,
                        prompt_tokens=event.usage.prompt_tokens,
                        cached_prompt_tokens=event.usage.cached_tokens,
                        completion_tokens=event.usage.completion_tokens,
                        latency_ms=_ms_since(started),
                        first_token_ms=first_token.get(event.index, 0.0),
                        generation_ms=event.timings.total_ms,
                        turn=turn,
                    )
                    record(finished[event.index])
    except TimeoutError:
        missing("timeout", f"no answer within {timeout_s:g} s")
    except Overloaded as error:
        missing("overloaded", str(error))
    except InvalidRequest as error:
        missing("rejected", str(error))
    except ConclaveError as error:
        missing("error", str(error))
    except asyncio.CancelledError:
        # Cancelled by fan_out because the outcome is settled: account for the rest.
        missing(CANCELLED, "stopped early: the outcome could no longer change")
    else:
        missing("error", "the agent ended the stream before every sample finished")
    return [finished[i] for i in range(spec.samples)]


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
