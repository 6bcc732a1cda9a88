"""The Messages API's routes; mounted by `gateway/app.py` behind the API key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from conclave.gateway.anthropic.errors import anthropic_error
from conclave.gateway.anthropic.protocol import CountTokensRequest, MessagesRequest
from conclave.gateway.anthropic.stream import message_events
from conclave.gateway.anthropic.translate import message_body, prompt_messages, translate
from conclave.gateway.completions import check_limits, round_spec
from conclave.gateway.door import Door, agent_address, json_answer, sse_answer
from conclave.gateway.errors import Shaper
from conclave.gateway.protocol import SamplingFields
from conclave.services.engine.types import ChatMessage

PREFIX = "/v1/messages"
SHAPERS: dict[str, Shaper] = {PREFIX: anthropic_error}
COUNT_TIMEOUT_S = 10.0


def router(door: Door) -> APIRouter:
    routes = APIRouter(tags=["Anthropic Messages API"])

    @routes.post(PREFIX, summary="Anthropic Messages: a reply by a strategy or one participant")
    async def messages(request: MessagesRequest) -> Response:
        target, fields, turns = translate(request)
        check_limits(fields, turns, door.settings)
        spec = round_spec(fields, target, turns)

        async def produce() -> Response:
            if not request.stream:
                record = await door.service.decide(spec)
                return json_answer(message_body(record, target), record.id)
            round_id, items = await door.service.open_round(spec)
            events = message_events(
                door.service, target, round_id, items, door.settings.keepalive_s
            )
            return sse_answer(events, round_id)

        return await door.admission.admit(produce)

    @routes.post(
        PREFIX + "/count_tokens",
        summary="Tokens of a Messages prompt, by the model that would read it",
    )
    async def count_tokens(request: CountTokensRequest) -> dict[str, Any]:
        turns = prompt_messages(request)
        check_limits(SamplingFields(model=request.model), turns, door.settings)
        address = await agent_address(door.leader, request.model)
        count = await door.agents.count_tokens(
            address,
            [ChatMessage(role, content) for role, content in turns],
            model="",
            timeout=COUNT_TIMEOUT_S,
        )
        return {"input_tokens": count.tokens}

    return routes
