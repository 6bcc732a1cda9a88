"""The agent service's gRPC API as async calls with domain types in and out.

The one client of `AgentService` in Conclave: the leader's fan-out, its embeddings and
agent listing, the gateway's embeddings and the AutoGen model client all call through
here. Channels come from a shared `Channels` (one per loop and address); a failed call
raises the domain error its status stands for ("agent host:port: CODE: details").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import grpc

from conclave.errors import ConclaveError
from conclave.grpc_channels import Channels
from conclave.grpc_status import error_from_rpc
from conclave.services import convert
from conclave.services.engine.types import ChatMessage, GenerationEvent, GenerationRequest
from conclave.swarm_security import NO_SECURITY, SwarmSecurity
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

# Receives a function that cancels the call; that function may be called from any thread.
CancelHook = Callable[[Callable[[], None]], object]


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int
    model: str


@dataclass(frozen=True, slots=True)
class TokenCount:
    tokens: int
    context_size: int  # tokens per slot on the agent; 0 if it did not say


class AgentClients:
    def __init__(self, channels: Channels | None = None, *, owns_channels: bool = False) -> None:
        """`channels` may be shared with other clients (it is then theirs to close,
        unless `owns_channels`)."""
        self.channels = channels or Channels()
        self._owns_channels = channels is None or owns_channels

    def _stub(self, address: str) -> agent_pb2_grpc.AgentServiceStub:
        return agent_pb2_grpc.AgentServiceStub(self.channels.get(address))

    async def generate(
        self,
        address: str,
        request: GenerationRequest,
        *,
        timeout: float,
        on_cancel: CancelHook | None = None,
    ) -> AsyncIterator[GenerationEvent]:
        """The request's events as they stream. `on_cancel` gets a thread-safe canceller
        (AutoGen's cancellation tokens call back on any thread)."""
        call = self._stub(address).Generate(convert.request_to_proto(request), timeout=timeout)
        if on_cancel is not None:
            loop = asyncio.get_running_loop()
            on_cancel(lambda: _cancel_soon(loop, call))
        try:
            async for event in call:
                yield convert.event_from_proto(event)
        except grpc.aio.AioRpcError as error:
            raise _failed(address, error) from None
        finally:
            call.cancel()  # no-op when finished; stops the agent's work when we leave early

    async def info(self, address: str, *, timeout: float = 3.0) -> pb.AgentInfo:
        """The agent's GetInfo, as the proto the leader passes on in ListAgents."""
        try:
            return await self._stub(address).GetInfo(pb.GetInfoRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise _failed(address, error) from None

    async def models(self, address: str, *, timeout: float = 3.0) -> list[pb.ModelInfo]:
        """Every model the agent serves (ListModels), loaded or on demand."""
        try:
            reply = await self._stub(address).ListModels(pb.ListModelsRequest(), timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise _failed(address, error) from None
        return list(reply.models)

    async def embed(
        self, address: str, texts: Sequence[str], *, timeout: float = 30.0
    ) -> Embeddings:
        try:
            reply = await self._stub(address).Embed(
                pb.EmbedRequest(input=list(texts)), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise _failed(address, error) from None
        return Embeddings(
            vectors=[list(e.values) for e in reply.embeddings],
            prompt_tokens=reply.prompt_tokens,
            model=reply.model,
        )

    async def count_tokens(
        self, address: str, chat: Sequence[ChatMessage], *, model: str, timeout: float
    ) -> TokenCount:
        try:
            reply = await self._stub(address).CountTokens(
                count_request(chat, model), timeout=timeout
            )
        except grpc.aio.AioRpcError as error:
            raise _failed(address, error) from None
        return TokenCount(reply.tokens, reply.context_size)

    async def close(self) -> None:
        if self._owns_channels:
            await self.channels.close()


def count_tokens_blocking(
    address: str,
    chat: Sequence[ChatMessage],
    *,
    model: str,
    timeout: float,
    security: SwarmSecurity = NO_SECURITY,
) -> TokenCount:
    """CountTokens without an event loop (a blocking channel of its own)."""
    with security.channel(address) as channel:
        try:
            reply = agent_pb2_grpc.AgentServiceStub(channel).CountTokens(
                count_request(chat, model), timeout=timeout
            )
        except grpc.RpcError as error:
            raise _failed(address, error) from None
    return TokenCount(reply.tokens, reply.context_size)


def count_request(chat: Sequence[ChatMessage], model: str) -> pb.CountTokensRequest:
    return pb.CountTokensRequest(
        messages=[pb.ChatMessage(role=m.role, content=m.content) for m in chat], model=model
    )


def _failed(address: str, error: grpc.RpcError) -> ConclaveError:
    return error_from_rpc(error, where=f"agent {address}")


def _cancel_soon(loop: asyncio.AbstractEventLoop, call: grpc.aio.Call) -> None:
    """A grpc.aio call is cancelled on its own loop."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: the call is long gone
        loop.call_soon_threadsafe(call.cancel)
