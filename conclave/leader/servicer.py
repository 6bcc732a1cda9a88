"""The LeaderService servicer: proto in, runner/store call, proto out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError, InvalidRequest
from conclave.grpc_status import stream_errors, unary_errors
from conclave.leader import convert
from conclave.leader.discovery import AgentDirectory
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner
from conclave.leader.settings import LeaderSettings
from conclave.leader.store import RoundStore
from conclave.leader.types import Participant
from conclave.redact import secrets_in
from conclave.v1 import leader_pb2 as pb
from conclave.v1 import leader_pb2_grpc


class LeaderServicer(leader_pb2_grpc.LeaderServiceServicer):
    def __init__(
        self,
        *,
        settings: LeaderSettings,
        runner: RoundRunner,
        store: RoundStore,
        directory: AgentDirectory,
        participants: ParticipantRegistry,
        clients: AgentClients,
    ) -> None:
        self._settings = settings
        self.known_secrets = secrets_in(settings)  # masked in every status (grpc_status)
        self._runner = runner
        self._store = store
        self._directory = directory
        self._participants = participants
        self._clients = clients

    @stream_errors
    async def RunRound(
        self, request: pb.RunRoundRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RoundEvent]:
        async for event in self._runner.run(convert.round_request(request, self._settings)):
            yield convert.round_event(event)

    @unary_errors
    async def GetRound(self, request: pb.GetRoundRequest, context) -> pb.Round:
        if not request.id:
            raise InvalidRequest("id is required", field="id")
        # A round answered a moment ago may still be on its way to disk: read it whole.
        await self._runner.stored(request.id)
        return convert.round_message(await self._store.get_async(request.id))

    @unary_errors
    async def ListRounds(self, request: pb.ListRoundsRequest, context) -> pb.ListRoundsResponse:
        size = request.page_size or 20
        if not 1 <= size <= 100:
            raise InvalidRequest("page_size must be between 1 and 100", field="page_size")
        await self._runner.all_stored()  # no round listed as running that is decided
        rounds, token = await self._store.list_async(
            limit=size,
            page_token=request.page_token or None,
            strategy=request.strategy or None,
            since=request.since or None,
            until=request.until or None,
            tag=convert.tag_filter(request.tag),
            status=request.status or None,
        )
        return pb.ListRoundsResponse(
            rounds=[convert.summary(s) for s in rounds], next_page_token=token or ""
        )

    @unary_errors
    async def ListAgents(self, request: pb.ListAgentsRequest, context) -> pb.ListAgentsResponse:
        entries = self._directory.entries()
        voices: dict[str, list[Participant]] = {}
        for p in self._participants.all():
            voices.setdefault(p.address, []).append(p)

        async def describe(entry) -> pb.AgentEntry:
            served = voices.get(entry.address, [])
            message = pb.AgentEntry(
                name=entry.name,
                address=entry.address,
                source=entry.source,
                participants=[p.name for p in served],
            )
            try:
                message.info.CopyFrom(await self._clients.info(entry.address))
            except ConclaveError as error:
                message.error = str(error)
            default_model = message.info.model.id  # "" when the agent did not answer
            for p in served:
                message.participant_models[p.name] = p.model or default_model
            return message

        return pb.ListAgentsResponse(agents=await asyncio.gather(*map(describe, entries)))
