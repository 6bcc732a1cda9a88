"""The Responses API's routes; mounted by `gateway/app.py` behind the API key."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from conclave.errors import InvalidRequest, NotFound
from conclave.gateway.completions import check_limits, round_spec
from conclave.gateway.door import Door, json_answer, sse_answer
from conclave.gateway.responses.protocol import ResponsesRequest
from conclave.gateway.responses.stream import response_events
from conclave.gateway.responses.translate import (
    check_stored,
    continued,
    response_body,
    round_id_of,
    translate,
)
from conclave.leader.types import RoundRecord

PREFIX = "/v1/responses"


def router(door: Door) -> APIRouter:
    routes = APIRouter(tags=["OpenAI Responses API"])

    async def stored(response: str) -> RoundRecord:
        round_id = round_id_of(response)
        if len(round_id) > 128:
            raise NotFound(f"no response with id '{response}'")
        return check_stored(await door.leader.get_round(round_id), response)

    @routes.post(PREFIX, summary="A response by a strategy or one participant (stored)")
    async def create(request: ResponsesRequest) -> Response:
        history: list[tuple[str, str]] = []
        if request.previous_response_id is not None:
            try:
                earlier = await stored(request.previous_response_id)
            except NotFound:
                raise InvalidRequest(
                    f"previous_response_id '{request.previous_response_id}' names no "
                    "stored response",
                    field="previous_response_id",
                ) from None
            history = continued(earlier, request.previous_response_id)
        target, fields, turns = translate(
            request, history, max_tokens_cap=door.settings.max_tokens_cap
        )
        check_limits(fields, turns, door.settings)
        spec = round_spec(fields, target, turns)

        async def produce() -> Response:
            if not request.stream:
                record = await door.service.decide(spec)
                return json_answer(response_body(record), record.id)
            round_id, items = await door.service.open_round(spec)
            events = response_events(
                door.service,
                spec,
                round_id,
                items,
                direct=target.participant is not None,
                keepalive_s=door.settings.keepalive_s,
            )
            return sse_answer(events, round_id)

        return await door.admission.admit(produce)

    @routes.get(PREFIX + "/{response_id}", summary="A stored response, rebuilt from its round")
    async def retrieve(response_id: str, request: Request) -> Response:
        for name in request.query_params:
            # e.g. stream=true (a replay) or include[]: not served, so refused by name.
            raise InvalidRequest(f"query parameter {name} is not supported", field=name)
        record = await stored(response_id)
        return json_answer(response_body(record), record.id)

    return routes
