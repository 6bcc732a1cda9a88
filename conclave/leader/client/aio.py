"""The leader client for asyncio code (the gateway); see the package docstring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conclave.grpc_channels import Channels
from conclave.leader import convert
from conclave.leader.client import core
from conclave.leader.events import RoundDecided, RoundEvent
from conclave.leader.types import AgentListing, RoundRecord, RoundSpec
from conclave.v1 import leader_pb2
from conclave.v1.leader_pb2_grpc import LeaderServiceStub

T = TypeVar("T")


class LeaderClient:
    def __init__(self, address: str, *, channels: Channels | None = None) -> None:
        """`channels` may be shared with other clients (it is then theirs to close)."""
        self.address = address
        self._channels = channels or Channels()
        self._owns_channels = channels is None

    def _channel(self) -> grpc.aio.Channel:
        return self._channels.get(self.address)

    def _stub(self) -> LeaderServiceStub:
        return core.stub(self._channel())

    async def run_round(self, spec: RoundSpec, *, timeout: float) -> AsyncIterator[RoundEvent]:
        """The round's events, ending with RoundDecided. Leaving early (a client that
        hung up) cancels the call, which stops the round's generations too. The decided
        event is the end: the leader is then only storing the record, which GetRound
        waits for, so nobody waits for it here."""
        reader = core.RoundReader()
        call = core.stub(self._channel()).RunRound(convert.run_round_request(spec), timeout=timeout)
        try:
            async for message in call:
                event = reader.read(message)
                yield event
                if isinstance(event, RoundDecided):
                    return
        except grpc.aio.AioRpcError as error:
            raise reader.failed(error) from None
        finally:
            call.cancel()
        reader.decided()

    async def decide(
        self,
        spec: RoundSpec,
        *,
        timeout: float,
        on_event: Callable[[RoundEvent], Awaitable[None]] | None = None,
    ) -> RoundRecord:
        """Runs the round to its end; the decided record. `on_event` sees every event on
        the way (progress reports); a caller cancelled inside it still ends the call now,
        not when the generator is collected."""
        decided = None
        events = self.run_round(spec, timeout=timeout)
        async with contextlib.aclosing(events):
            async for event in events:
                if on_event is not None:
                    await on_event(event)
                if isinstance(event, RoundDecided):
                    decided = event.record
        assert decided is not None  # run_round ends with the decided round or raises
        return decided

    async def get_round(self, round_id: str, *, timeout: float = 10.0) -> RoundRecord:
        request = leader_pb2.GetRoundRequest(id=round_id)
        reply = await self._unary(self._stub().GetRound, request, timeout)
        return convert.record_from_proto(reply)

    async def list_rounds(
        self,
        *,
        page_size: int = core.PAGE_SIZE,
        page_token: str | None = None,
        strategy: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tag: str | None = None,
        status: str | None = None,
        timeout: float = 10.0,
    ) -> core.RoundPage:
        request = core.list_rounds_request(
            page_size=page_size,
            page_token=page_token,
            strategy=strategy,
            since=since,
            until=until,
            tag=tag,
            status=status,
        )
        return core.round_page(await self._unary(self._stub().ListRounds, request, timeout))

    async def list_agents(self, *, timeout: float = 10.0) -> list[AgentListing]:
        request = leader_pb2.ListAgentsRequest()
        reply = await self._unary(self._stub().ListAgents, request, timeout)
        return [convert.agent_from_proto(a) for a in reply.agents]

    async def healthy(self, *, timeout: float = 2.0) -> bool:
        """The leader's gRPC health says SERVING."""
        try:
            reply = await health_pb2_grpc.HealthStub(self._channel()).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.aio.AioRpcError:
            return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def close(self) -> None:
        if self._owns_channels:
            await self._channels.close()

    async def _unary(
        self, method: Callable[..., Awaitable[T]], request: object, timeout: float
    ) -> T:
        try:
            return await method(request, timeout=timeout)
        except grpc.aio.AioRpcError as error:
            raise core.failed(error) from None
