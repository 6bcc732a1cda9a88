"""A round as the Responses API's stream of events.

The sequence is OpenAI's for one text message: `response.created`,
`response.in_progress`, `response.output_item.added`, `response.content_part.added`,
`response.output_text.delta`s, `response.output_text.done`, `response.content_part.done`,
`response.output_item.done`, then `response.completed` (`response.incomplete` when the
answer hit max_output_tokens, `response.failed` when the round has none); every event
carries its `sequence_number`. For `agent/<name>` the participant's tokens are the deltas,
live; for a strategy the answer exists only once the round is decided, so it comes as one
delta then (SSE comments keep the connection alive meanwhile). An error after the stream
has opened is the API's in-band `error` event.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

from conclave.errors import ConclaveError
from conclave.gateway.completions import KEEPALIVE_COMMENT, CompletionService, keep_alive
from conclave.gateway.door import sse_event
from conclave.gateway.errors import body as openai_error
from conclave.gateway.responses.translate import (
    in_progress_body,
    message_item,
    output_text,
    response_body,
)
from conclave.leader.events import CandidateText, RoundDecided, RoundEvent
from conclave.leader.types import RoundSpec

FINAL_EVENTS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


def response_events(
    service: CompletionService,
    spec: RoundSpec,
    round_id: str,
    items: AsyncIterator[RoundEvent],
    *,
    direct: bool,
    keepalive_s: float,
) -> AsyncIterator[str]:
    """The stream, with an SSE comment whenever `keepalive_s` passes without an event sent."""
    events = _response_events(service, spec, round_id, items, direct=direct)
    return keep_alive(events, keepalive_s, KEEPALIVE_COMMENT)


async def _response_events(
    service: CompletionService,
    spec: RoundSpec,
    round_id: str,
    items: AsyncIterator[RoundEvent],
    *,
    direct: bool,
) -> AsyncIterator[str]:
    numbers = itertools.count()

    def event(kind: str, **fields: Any) -> str:
        return sse_event(kind, {"type": kind, "sequence_number": next(numbers), **fields})

    item_id = message_item(round_id, "", "in_progress")["id"]
    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    shell = in_progress_body(spec, round_id, time.time())
    yield event("response.created", response=shell)
    yield event("response.in_progress", response=shell)
    yield event(
        "response.output_item.added",
        output_index=0,
        item=message_item(round_id, "", "in_progress"),
    )
    yield event("response.content_part.added", part=output_text(""), **where)
    try:
        decided = None
        async with contextlib.aclosing(items):
            async for item in items:
                if isinstance(item, CandidateText) and direct:
                    if item.turn == 0 and item.sample_index == 0 and item.text:
                        yield event(
                            "response.output_text.delta", delta=item.text, logprobs=[], **where
                        )
                elif isinstance(item, RoundDecided):
                    decided = item.record
        assert decided is not None  # run_round ends with the decided round or raises
        service.round_done(decided)
        body = response_body(decided)
        if body["output"]:
            message = body["output"][0]
            text = message["content"][0]["text"]
            if not direct and text:
                yield event("response.output_text.delta", delta=text, logprobs=[], **where)
            yield event("response.output_text.done", text=text, logprobs=[], **where)
            yield event("response.content_part.done", part=output_text(text), **where)
            yield event("response.output_item.done", output_index=0, item=message)
        yield event(FINAL_EVENTS[body["status"]], response=body)
    except ConclaveError as error:
        detail = service.stream_error(error, openai_error)["error"]
        yield event("error", code=detail["code"], message=detail["message"], param=detail["param"])
