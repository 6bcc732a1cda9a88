"""The leader's own health follows its agents: every few seconds it asks each known
agent for GetInfo. With no agent answering, the LeaderService's named health status is
NOT_SERVING (the process itself stays SERVING under the overall name ""), so a
readiness probe on `conclave.v1.LeaderService` takes a leader that cannot run a round
out of service; every agent that stops or starts answering is logged with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError
from conclave.leader.discovery import AgentDirectory

log = logging.getLogger(__name__)


class AgentWatch:
    def __init__(
        self,
        directory: AgentDirectory,
        clients: AgentClients,
        *,
        period_s: float,
        on_change: Callable[[bool], Awaitable[None]],
    ) -> None:
        self._directory = directory
        self._clients = clients
        self._period_s = period_s
        self._on_change = on_change  # gets whether any agent answers, when that changes
        self._down: dict[str, str] = {}  # address -> why it did not answer
        self._serving: bool | None = None
        self._task: asyncio.Task | None = None

    @property
    def reasons(self) -> list[str]:
        """Why the leader is degraded: one line per known agent that does not answer."""
        return [f"agent {address} does not answer: {why}" for address, why in self._down.items()]

    async def start(self) -> None:
        await self.check()  # the first status is known before the leader serves
        self._task = asyncio.create_task(self._run())

    async def check(self) -> None:
        entries = self._directory.entries()

        async def probe(address: str) -> str:
            try:
                await self._clients.info(address, timeout=min(self._period_s, 3.0))
            except ConclaveError as error:
                return str(error) or type(error).__name__
            return ""

        results = await asyncio.gather(*(probe(e.address) for e in entries))
        down = {e.address: why for e, why in zip(entries, results, strict=True) if why}
        for address, why in down.items():
            if address not in self._down:
                log.warning("agent %s does not answer: %s", address, why)
        for address in self._down.keys() - down.keys():
            log.info("agent %s answers again", address)
        self._down = down
        serving = len(down) < len(entries)
        if serving != self._serving:
            self._serving = serving
            if not serving:
                log.warning("no agent answers: the leader cannot run a round (NOT_SERVING)")
            await self._on_change(serving)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period_s)
            try:
                await self.check()
            except Exception:  # a bug must not end the watch silently
                log.exception("agent health check failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
