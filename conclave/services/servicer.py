"""The AgentService servicer: proto in, engine call, proto out. No logic of its own."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc

from conclave import __version__
from conclave.errors import Overloaded, Unavailable
from conclave.grpc_status import stream_errors, unary_errors
from conclave.redact import environment_secrets, secrets_in
from conclave.services import convert
from conclave.services.engine.pool import ModelPool
from conclave.services.hardware.types import HardwareReport
from conclave.services.rpc_limits import check_count_tokens, check_embed
from conclave.services.settings import AgentSettings
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

log = logging.getLogger(__name__)


@dataclass
class AgentState:
    """What the servicer shares with the server's lifecycle: the engine once loaded,
    whether we are draining, and how many generations are running."""

    hardware: HardwareReport
    engine: ModelPool | None = None
    draining: bool = False
    in_flight: int = 0
    # Generate calls refused as busy (RESOURCE_EXHAUSTED) since start, for GetInfo.
    refused_total: int = 0
    started_at: float = field(default_factory=time.monotonic)
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def ready_engine(self) -> ModelPool:
        if self.draining:
            raise Unavailable("the agent is shutting down; send the request to another agent")
        if self.engine is None:
            raise Unavailable("the model is still loading; retry in a few seconds")
        return self.engine


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, settings: AgentSettings, state: AgentState) -> None:
        self._settings = settings
        self._state = state
        self.known_secrets = [*secrets_in(settings), *environment_secrets()]  # see grpc_status

    @stream_errors
    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.GenerateEvent]:
        engine = self._state.ready_engine()
        domain = convert.generation_request(
            request,
            default_max_tokens=self._settings.default_max_tokens,
            deadline_s=context.time_remaining(),
        )
        state = self._state
        state.in_flight += 1
        state.idle.clear()
        try:
            async for event in engine.generate(domain):
                yield convert.generate_event(event)
        except Overloaded:
            state.refused_total += 1
            raise
        finally:
            state.in_flight -= 1
            if state.in_flight == 0:
                state.idle.set()

    @unary_errors
    async def Embed(self, request: pb.EmbedRequest, context: grpc.aio.ServicerContext):
        engine = self._state.ready_engine()
        inputs = list(request.input)
        check_embed(inputs, self._settings)
        # A client that goes away cancels this coroutine; the engine stops its worker
        # thread at the next input (LlamaEngine.embed).
        return convert.embed_response(await engine.embed(inputs, request.model))

    @unary_errors
    async def CountTokens(self, request: pb.CountTokensRequest, context):
        engine = self._state.ready_engine()
        messages = convert.messages_from_proto(request.messages)
        prompt = request.prompt or None
        check_count_tokens(messages, prompt, self._settings)
        # Tokenizing a long text takes a while: in a worker thread, so the loop keeps
        # serving every other call (a GetInfo waited 1.15 s behind 3 M characters).
        tokens = await asyncio.to_thread(engine.count_tokens, messages, prompt, request.model)
        return pb.CountTokensResponse(tokens=tokens, context_size=engine.stats().context_per_slot)

    @unary_errors
    async def GetInfo(self, request: pb.GetInfoRequest, context) -> pb.AgentInfo:
        pool = self._state.engine
        return convert.agent_info(
            name=self._settings.name,
            version=__version__,
            model=pool.description if pool else None,
            stats=pool.stats() if pool else None,
            report=self._state.hardware,
            uptime_seconds=time.monotonic() - self._state.started_at,
            models=pool.entries() if pool else [],
            pool=pool.pool_stats() if pool else None,
            refused_total=self._state.refused_total,
        )

    @unary_errors
    async def ListModels(self, request: pb.ListModelsRequest, context) -> pb.ListModelsResponse:
        pool = self._state.engine
        entries = pool.entries() if pool else []
        return pb.ListModelsResponse(models=[convert.pool_entry(e) for e in entries])
