"""The blocking leader client, for plain threads (the experiment runner's round pool,
`conclave ask`); see the package docstring for why it does not wrap an event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc

from conclave.errors import Unavailable
from conclave.leader import convert
from conclave.leader.client import core
from conclave.leader.events import RoundDecided, RoundEvent
from conclave.leader.store import RoundSummary
from conclave.leader.types import AgentListing, RoundRecord, RoundSpec
from conclave.swarm_security import NO_SECURITY, SwarmSecurity
from conclave.v1 import leader_pb2

T = TypeVar("T")


class LeaderClientSync:
    """Thread-safe: rounds may run from many threads at once; `cancel_all` stops them."""

    def __init__(self, address: str, *, security: SwarmSecurity = NO_SECURITY) -> None:
        """`security`: the swarm token and TLS the calls carry."""
        self.address = address
        self._channel = security.channel(address)
        self._stub = core.stub(self._channel)
        self._calls: set[grpc.Future] = set()
        self._lock = threading.Lock()

    def wait_ready(self, timeout: float) -> None:
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Unavailable(f"no leader answers at {self.address}") from None

    def run_round(self, spec: RoundSpec, *, timeout: float) -> Iterator[RoundEvent]:
        """The round's events, ending with RoundDecided (the end: the leader is then only
        storing the record, which GetRound waits for)."""
        reader = core.RoundReader()
        call = self._stub.RunRound(convert.run_round_request(spec), timeout=timeout)
        with self._lock:
            self._calls.add(call)
        try:
            for message in call:
                event = reader.read(message)
                yield event
                if isinstance(event, RoundDecided):
                    return
        except grpc.RpcError as error:
            raise reader.failed(error) from None
        finally:
            call.cancel()
            with self._lock:
                self._calls.discard(call)
        reader.decided()

    def decide(self, spec: RoundSpec, *, timeout: float) -> RoundRecord:
        """Runs the round to its end; the decided record."""
        decided = None
        for event in self.run_round(spec, timeout=timeout):
            if isinstance(event, RoundDecided):
                decided = event.record
        assert decided is not None  # run_round ends with the decided round or raises
        return decided

    def get_round(self, round_id: str, *, timeout: float = 30.0) -> RoundRecord:
        request = leader_pb2.GetRoundRequest(id=round_id)
        return convert.record_from_proto(self._unary(self._stub.GetRound, request, timeout))

    def tagged(self, key: str, value: str, *, timeout: float = 30.0) -> Iterator[RoundSummary]:
        """Every stored round carrying the tag, newest first, over all pages."""
        token = ""
        while True:
            request = core.list_rounds_request(
                page_size=core.MAX_PAGE_SIZE,
                page_token=token,
                strategy=None,
                since=None,
                until=None,
                tag=f"{key}={value}",
            )
            page = core.round_page(self._unary(self._stub.ListRounds, request, timeout))
            yield from page.rounds
            token = page.next_page_token
            if not token:
                return

    def list_agents(self, *, timeout: float = 30.0) -> list[AgentListing]:
        request = leader_pb2.ListAgentsRequest()
        reply = self._unary(self._stub.ListAgents, request, timeout)
        return [convert.agent_from_proto(a) for a in reply.agents]

    def cancel_all(self) -> None:
        """Cancels the rounds in flight (an interrupt): the leader stops their generations."""
        with self._lock:
            calls = list(self._calls)
        for call in calls:
            call.cancel()

    def close(self) -> None:
        self.cancel_all()
        self._channel.close()

    def _unary(self, method: Callable[..., T], request: object, timeout: float) -> T:
        try:
            return method(request, timeout=timeout)
        except grpc.RpcError as error:
            raise core.failed(error) from None
