"""At most `max_concurrent` answers at once, across every door of the gateway.

Refusing at the door (429 + Retry-After) is the only honest choice once a stream has
started: it is never cut short later. A streamed answer holds its place until its body
has been sent (or its client has gone), a whole answer until it is built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Response
from fastapi.responses import StreamingResponse
from prometheus_client import Gauge

from conclave.errors import Overloaded


class Admission:
    def __init__(
        self,
        limit: int,
        gauge: Gauge | None = None,
        on_refuse: Callable[[], None] | None = None,
    ) -> None:
        """`on_refuse` is told of each refusal (the metrics count them)."""
        self.limit = limit
        self.in_flight = 0
        self._gauge = gauge
        self._on_refuse = on_refuse

    def enter(self) -> None:
        if self.in_flight >= self.limit:
            if self._on_refuse is not None:
                self._on_refuse()
            raise Overloaded(f"the gateway is answering {self.limit} requests; retry later")
        self._count(+1)

    def leave(self) -> None:
        self._count(-1)

    @contextmanager
    def held(self) -> Iterator[None]:
        """One place for the duration of the block (an MCP tool call's round)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def _count(self, step: int) -> None:
        self.in_flight += step
        if self._gauge is not None:
            self._gauge.set(self.in_flight)

    async def admit(self, produce: Callable[[], Awaitable[Response]]) -> Response:
        """`produce()` inside one place; a StreamingResponse keeps it until its body ends."""
        self.enter()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.leave()

        try:
            response = await produce()
        except BaseException:
            release()
            raise
        if not isinstance(response, StreamingResponse):
            release()
            return response
        response.body_iterator = _then(response.body_iterator, release)
        return response


async def _then(body: AsyncIterator[Any], done: Callable[[], None]) -> AsyncIterator[Any]:
    try:
        async for piece in body:
            yield piece
    finally:
        done()
