"""The gateway's client of the leader (and of agents, for embeddings).

It is the gateway's gRPC edge: statuses become domain errors here, and what leaves is
plain Python (dicts shaped like the protos' JSON, small dataclasses for the stream).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict

from conclave.errors import ConclaveError
from conclave.grpc_status import error_from_rpc
from conclave.v1 import agent_pb2, agent_pb2_grpc, leader_pb2, leader_pb2_grpc


def domain_error(error: grpc.aio.AioRpcError) -> ConclaveError:
    return error_from_rpc(error)


def as_dict(message) -> dict[str, Any]:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


@dataclass(frozen=True, slots=True)
class RoundSpec:
    messages: Sequence[tuple[str, str]]
    strategy: str
    method: str | None = None
    participants: Sequence[str] = ()
    samples_per_participant: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    quorum: int | None = None
    participant_timeout_s: float | None = None
    params: dict[str, str] | None = None
    tags: dict[str, str] | None = None
    stop: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class RoundOpened:
    round_id: str
    participants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TextPiece:
    participant: str
    sample_index: int
    turn: int
    text: str


@dataclass(frozen=True, slots=True)
class RoundClosed:
    round: dict[str, Any]  # the decided Round, as JSON-shaped dict


StreamItem = RoundOpened | TextPiece | RoundClosed


class LeaderClient:
    def __init__(self, address: str) -> None:
        self.address = address
        self._channel: grpc.aio.Channel | None = None
        self._agent_channels: dict[str, grpc.aio.Channel] = {}

    @property
    def _stub(self) -> leader_pb2_grpc.LeaderServiceStub:
        if self._channel is None:  # made in the server's loop, on first use
            self._channel = grpc.aio.insecure_channel(self.address)
        return leader_pb2_grpc.LeaderServiceStub(self._channel)

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[StreamItem]:
        request = leader_pb2.RunRoundRequest(
            messages=[agent_pb2.ChatMessage(role=r, content=c) for r, c in spec.messages],
            strategy=spec.strategy,
            method=spec.method or "",
            participants=list(spec.participants),
            params=spec.params or {},
            tags=spec.tags or {},
            stop=list(spec.stop),
        )
        for name in (
            "samples_per_participant",
            "max_tokens",
            "temperature",
            "top_p",
            "seed",
            "quorum",
            "participant_timeout_s",
        ):
            value = getattr(spec, name)
            if value is not None:
                setattr(request, name, value)
        call = self._stub.RunRound(request, timeout=timeout)
        try:
            async for event in call:
                kind = event.WhichOneof("event")
                if kind == "started":
                    yield RoundOpened(event.started.round_id, tuple(event.started.participants))
                elif kind == "delta":
                    d = event.delta
                    yield TextPiece(d.participant, d.sample_index, d.turn, d.text)
                elif kind == "decided":
                    yield RoundClosed(as_dict(event.decided))
        except grpc.aio.AioRpcError as error:
            raise domain_error(error) from None
        finally:
            call.cancel()  # a client that hung up stops the round's generations too

    async def _unary(self, method, request, timeout: float = 10.0):
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise domain_error(error) from None

    async def get_round(self, round_id: str) -> dict[str, Any]:
        return as_dict(
            await self._unary(self._stub.GetRound, leader_pb2.GetRoundRequest(id=round_id))
        )

    async def list_rounds(self, **filters: Any) -> dict[str, Any]:
        request = leader_pb2.ListRoundsRequest(**{k: v for k, v in filters.items() if v})
        return as_dict(await self._unary(self._stub.ListRounds, request))

    async def list_agents(self) -> list[dict[str, Any]]:
        reply = await self._unary(self._stub.ListAgents, leader_pb2.ListAgentsRequest())
        return [as_dict(a) for a in reply.agents]

    async def embed(self, agent_address: str, texts: Sequence[str]) -> dict[str, Any]:
        channel = self._agent_channels.get(agent_address)
        if channel is None:
            channel = self._agent_channels[agent_address] = grpc.aio.insecure_channel(agent_address)
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        reply = await self._unary(stub.Embed, agent_pb2.EmbedRequest(input=list(texts)), 60.0)
        return {
            "vectors": [list(e.values) for e in reply.embeddings],
            "prompt_tokens": reply.prompt_tokens,
            "model": reply.model,
        }

    async def healthy(self) -> bool:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self.address)
        try:
            reply = await health_pb2_grpc.HealthStub(self._channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=2.0
            )
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        for channel in [self._channel, *self._agent_channels.values()]:
            if channel is not None:
                await channel.close()
