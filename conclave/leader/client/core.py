"""What the async and the blocking leader clients share: the stub, listing requests, and
the reading of one RunRound stream."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from conclave.errors import ConclaveError, Unavailable
from conclave.grpc_status import error_from_rpc
from conclave.leader import convert
from conclave.leader.events import RoundDecided, RoundEvent, RoundStarted
from conclave.leader.store import RoundSummary
from conclave.leader.types import RoundRecord
from conclave.v1 import leader_pb2
from conclave.v1.leader_pb2_grpc import LeaderServiceStub

PAGE_SIZE = 20  # ListRounds' default page
MAX_PAGE_SIZE = 100


def stub(channel: grpc.Channel | grpc.aio.Channel) -> LeaderServiceStub:
    """The stub, for a blocking or an asyncio channel alike: the one place it is made."""
    return LeaderServiceStub(channel)


@dataclass(frozen=True, slots=True)
class RoundPage:
    rounds: tuple[RoundSummary, ...]  # newest first
    next_page_token: str  # "" on the last page


def list_rounds_request(
    *,
    page_size: int,
    page_token: str | None,
    strategy: str | None,
    since: float | None,
    until: float | None,
    tag: str | None,
    status: str | None = None,
) -> leader_pb2.ListRoundsRequest:
    return leader_pb2.ListRoundsRequest(
        page_size=page_size,
        page_token=page_token or "",
        strategy=strategy or "",
        since=since or 0.0,
        until=until or 0.0,
        tag=tag or "",
        status=status or "",
    )


def round_page(reply: leader_pb2.ListRoundsResponse) -> RoundPage:
    return RoundPage(
        rounds=tuple(convert.summary_from_proto(s) for s in reply.rounds),
        next_page_token=reply.next_page_token,
    )


class RoundReader:
    """Reads one RunRound stream: decodes each event, keeps the round id and the decided
    record, and turns a failure into the domain error that names the round."""

    def __init__(self) -> None:
        self.round_id: str | None = None
        self.record: RoundRecord | None = None

    def read(self, message: leader_pb2.RoundEvent) -> RoundEvent:
        event = convert.event_from_proto(message)
        if isinstance(event, RoundStarted):
            self.round_id = event.round_id
        elif isinstance(event, RoundDecided):
            self.record = event.record
        return event

    def failed(self, error: grpc.RpcError) -> ConclaveError:
        return error_from_rpc(error, round_id=self.round_id)

    def decided(self) -> RoundRecord:
        """The decided round; Unavailable when the stream ended without one."""
        if self.record is None:
            error = Unavailable(f"the leader ended round {self.round_id} without a decision")
            error.round_id = self.round_id
            raise error
        return self.record


def failed(error: grpc.RpcError) -> ConclaveError:
    """A unary call's failure."""
    return error_from_rpc(error)
