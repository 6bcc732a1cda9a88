"""`POST /v1/rounds`: a round's own events as server-sent events — every voice's text as
it is generated, each candidate (and critique turn) as it finishes, then the decided
round. The OpenAI stream of a strategy model has nothing to show until the vote is
over; this is the stream for whoever wants to watch the round itself (the dashboard's
Ask page is one such client, through the same public API as any other)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict

from conclave.errors import ConclaveError
from conclave.gateway.completions import CompletionService, with_keepalive
from conclave.gateway.door import sse_event
from conclave.gateway.errors import body as openai_shape
from conclave.leader import convert
from conclave.leader.events import (
    CandidateDone,
    CandidateText,
    RoundDecided,
    RoundEvent,
    RoundStarted,
)

STARTED = "round.started"
DELTA = "candidate.delta"
DONE = "candidate.done"
DECIDED = "round.decided"
ERROR = "error"


def encode(event: RoundEvent) -> str:
    """One round event as one named SSE event; payloads in the JSON the rest of the
    API uses (a candidate and a round exactly as `GET /v1/rounds/{id}` shows them)."""
    if isinstance(event, CandidateText):
        return sse_event(DELTA, asdict(event))
    if isinstance(event, CandidateDone):
        return sse_event(DONE, convert.as_json(convert.candidate(event.candidate)))
    if isinstance(event, RoundDecided):
        return sse_event(DECIDED, convert.round_json(event.record))
    assert isinstance(event, RoundStarted)
    return sse_event(STARTED, {**asdict(event), "participants": list(event.participants)})


async def sse(
    service: CompletionService, items: AsyncIterator[RoundEvent], keepalive_s: float
) -> AsyncIterator[str]:
    """The events in order; a comment while nothing happens (a long critique turn); a
    failure after the stream opened as an in-band `error` event. A client that hangs up
    cancels the round (the leader call ends with the stream)."""
    try:
        async for item in with_keepalive(items, keepalive_s):
            if item is None:
                yield ": keep-alive\n\n"
                continue
            if isinstance(item, RoundDecided):
                service.round_done(item.record)
            yield encode(item)
    except ConclaveError as error:
        # Headers are sent: the error (mapped by the one table, counted) goes in-band.
        yield sse_event(ERROR, service.stream_error(error, openai_shape))
