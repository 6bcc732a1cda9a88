"""A round as Anthropic's stream of events.

The sequence is Anthropic's: `message_start`, `content_block_start` (one text block),
`content_block_delta`s, `content_block_stop`, `message_delta` (stop reason and usage),
`message_stop`; `ping` while a vote runs with nothing to say yet. For `agent/<name>` the
participant's tokens are the deltas, live; for a strategy the answer exists only once the
round is decided, so it comes as one delta then. An error after the stream has opened is
Anthropic's in-band `error` event.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from conclave.errors import ConclaveError
from conclave.gateway.anthropic.errors import anthropic_error
from conclave.gateway.anthropic.translate import answer_of, message_id, usage_of
from conclave.gateway.catalog import Target
from conclave.gateway.completions import CompletionService, extension, keep_alive
from conclave.gateway.door import sse_event
from conclave.leader.events import CandidateText, RoundDecided, RoundEvent


def _event(payload: dict[str, Any]) -> str:
    return sse_event(payload["type"], payload)


def message_events(
    service: CompletionService,
    target: Target,
    round_id: str,
    items: AsyncIterator[RoundEvent],
    keepalive_s: float,
) -> AsyncIterator[str]:
    """The stream, with a `ping` whenever `keepalive_s` passes without an event sent."""
    events = _message_events(service, target, round_id, items)
    return keep_alive(events, keepalive_s, _event({"type": "ping"}))


async def _message_events(
    service: CompletionService,
    target: Target,
    round_id: str,
    items: AsyncIterator[RoundEvent],
) -> AsyncIterator[str]:
    direct = target.participant is not None
    yield _event(
        {
            "type": "message_start",
            "message": {
                "id": message_id(round_id),
                "type": "message",
                "role": "assistant",
                "model": target.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                # Known once the round is decided: message_delta carries both counts.
                "usage": {"input_tokens": 0, "output_tokens": 0},
                "conclave": {"round_id": round_id},
            },
        }
    )
    yield _event(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    try:
        decided = None
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, CandidateText) and direct:
                    if item.turn == 0 and item.sample_index == 0 and item.text:
                        yield _delta(item.text)
                elif isinstance(item, RoundDecided):
                    decided = item.record
        assert decided is not None  # run_round ends with the decided round or raises
        service.round_done(decided)
        text, stop_reason = answer_of(decided, target)
        if not direct and text:
            yield _delta(text)
        yield _event({"type": "content_block_stop", "index": 0})
        yield _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": usage_of(decided),
                "conclave": extension(decided),
            }
        )
        yield _event({"type": "message_stop"})
    except ConclaveError as error:
        yield _event(service.stream_error(error, anthropic_error))


def _delta(text: str) -> str:
    return _event(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
    )
