"""A leader started by the runner itself when the config names no leader address: its
agents are listed, discovered or started here on the bundled model (`embedded`).

It runs on an event loop in a background thread and the runner reaches it over gRPC like
any leader, so every round is stored the same way. grpc.aio supports one event loop per
process: do not start this where another grpc.aio loop runs (tests give a leader address).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from conclave.experiments.schema import EmbeddedSpec, ParticipantsSpec
from conclave.swarm_security import SwarmClientFields

log = logging.getLogger(__name__)


class InProcessLeader:
    def __init__(
        self,
        spec: ParticipantsSpec,
        *,
        db: Path,
        log_level: str = "WARNING",
        swarm: SwarmClientFields | None = None,
    ) -> None:
        """`swarm`: the token and certificates of the swarm whose agents it lists; its own
        port asks the same of the runner."""
        self._swarm = swarm or SwarmClientFields()
        self._spec = spec
        self._db = db
        self._log_level = log_level
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="experiment-leader", daemon=True
        )
        self._agents: list[Any] = []
        self._leader: Any = None

    def start(self, timeout: float = 900.0) -> str:
        """Starts everything; returns the leader's address. Loading models takes a while."""
        self._thread.start()
        return self._run(self._start(), timeout)

    @property
    def strategies(self) -> tuple[str, ...]:
        return self._leader.runner.strategies if self._leader else ()

    def close(self) -> None:
        if self._thread.is_alive():
            try:
                self._run(self._stop(), 60.0)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> InProcessLeader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> str:
        # Imported here: a run against a remote leader never loads the servers' code.
        from conclave.leader.server import LeaderServer
        from conclave.leader.settings import LeaderSettings

        addresses = list(self._spec.agents)
        if self._spec.embedded is not None:
            addresses += await self._start_agents(self._spec.embedded)
        settings = LeaderSettings(
            host="127.0.0.1",
            port=0,
            agents=addresses,
            participants=list(self._spec.named),
            participants_per_agent=self._spec.participants_per_agent,
            discover=self._spec.discover,
            db=self._db,
            log_level=self._log_level,
            **self._swarm.model_dump(include=set(SwarmClientFields.model_fields)),
        )
        self._leader = LeaderServer(settings)
        await self._leader.start()
        log.info("in-process leader on %s (round store %s)", self._leader.address, self._db)
        return self._leader.address

    async def _start_agents(self, spec: EmbeddedSpec) -> list[str]:
        from conclave.services.server import AgentServer
        from conclave.services.settings import AgentSettings

        optional = {
            k: v
            for k, v in {
                "model": spec.model,
                "slots": spec.slots,
                "context_size": spec.context_size,
                "threads": spec.threads,
            }.items()
            if v is not None
        }
        for i in range(spec.agents):
            settings = AgentSettings(
                host="127.0.0.1",
                port=0,
                name=f"embedded-{i + 1}",
                log_level=self._log_level,
                **optional,
            )
            agent = AgentServer(settings)
            await agent.start()
            self._agents.append(agent)
        log.info("loading the model on %d embedded agent(s)", spec.agents)
        await asyncio.gather(*(agent.load() for agent in self._agents))
        return [agent.address for agent in self._agents]

    async def _stop(self) -> None:
        if self._leader is not None:
            await self._leader.stop(grace=1.0)
        for agent in self._agents:
            await agent.drain()
