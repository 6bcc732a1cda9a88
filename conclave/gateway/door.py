"""What every door of the gateway (OpenAI, Anthropic, Responses, MCP) shares: the
clients and services it answers with, and how an answer that names its round is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, StreamingResponse

from conclave.agents.rpc import AgentClients
from conclave.errors import NotFound, Unavailable
from conclave.gateway import catalog
from conclave.gateway.admission import Admission
from conclave.gateway.completions import CompletionService
from conclave.gateway.settings import GatewaySettings
from conclave.leader.client import LeaderClient

ROUND_HEADER = "x-conclave-round-id"


@dataclass(frozen=True, slots=True)
class Door:
    """Handed to each door's router: one set per app, never a global."""

    settings: GatewaySettings
    leader: LeaderClient
    agents: AgentClients
    service: CompletionService
    admission: Admission


def json_answer(body: dict[str, Any], round_id: str) -> JSONResponse:
    return JSONResponse(body, headers={ROUND_HEADER: round_id})


def sse_answer(body: AsyncIterator[str], round_id: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={ROUND_HEADER: round_id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def sse_event(name: str, payload: dict[str, Any]) -> str:
    """One named server-sent event (Anthropic's and the Responses API's framing)."""
    return f"event: {name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def agent_address(leader: LeaderClient, model: str) -> str:
    """The agent service that speaks for `model` alone (embeddings, token counts):
    `agent/<name>`'s own agent; for a strategy, the first live agent — a prompt's
    embedding or token count is one model's, never a vote."""
    target = catalog.resolve(model)
    for agent in await leader.list_agents():
        if target.participant is None or target.participant in agent.participants:
            return agent.address
    if target.participant is not None:
        raise NotFound(f"The model '{model}' does not exist; GET /v1/models lists the models")
    raise Unavailable("no agent service is live to answer for this model")
