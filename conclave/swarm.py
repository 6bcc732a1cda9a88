"""The whole local swarm in one process: agent services, a leader, the gateway.

One asyncio loop runs them all (grpc.aio wants one loop per process); the models decode
in their own threads, so the loop stays free for the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from conclave.gateway.server import build_server, run_server
from conclave.gateway.settings import GatewaySettings
from conclave.leader.server import LeaderServer
from conclave.leader.settings import LeaderSettings
from conclave.services.model_source import SMOLLM2
from conclave.services.server import AgentServer, model_unloadable
from conclave.services.settings import AgentSettings
from conclave.startup import check_port_free

log = logging.getLogger(__name__)

# The voices of each agent when it serves the bundled models: the team the quality
# benchmark measured best on a 2-core machine (docs/benchmarks.md, "The default swarm").
# Three SmolLM2 voices at 0.5 had the best mean accuracy over the five shipped tasks for
# a majority vote of three (the intervals overlap; Gemma's voices are ahead on capitals
# and yes/no, SmolLM2's far ahead on sums and products).
DEFAULT_VOICE_MODELS: tuple[str, ...] = (SMOLLM2.id, SMOLLM2.id, SMOLLM2.id)
DEFAULT_TEMPERATURE = 0.5


class SwarmError(ValueError):
    """The plan cannot run on these agents; the message names the setting."""


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    agents: int = 1
    participants_per_agent: int = 3
    host: str = "127.0.0.1"
    gateway_port: int = 8080
    leader_port: int = 50050
    first_agent_port: int = 50051  # 0: any free port for every agent
    model: str | None = None
    # Models the voices of each agent ask for, in turn; None: DEFAULT_VOICE_MODELS when
    # the agents serve the bundled models (no `model`), else each agent's default.
    voice_models: tuple[str, ...] | None = None
    temperature: float = DEFAULT_TEMPERATURE  # the rounds' default temperature
    slots: int | None = None
    db: Path | None = None
    log_level: str = "WARNING"
    # Every gRPC port of the swarm requires it and every member carries it; given to the
    # servers in memory, never on a command line or in a child's environment.
    swarm_token: str | None = None


class LocalSwarm:
    def __init__(self, plan: SwarmPlan) -> None:
        self.plan = plan
        self.agents: list[AgentServer] = []
        self.leader: LeaderServer | None = None
        self._gateway = None
        self._gateway_task: asyncio.Task | None = None
        self.gateway_url = ""

    async def start(self) -> None:
        plan = self.plan
        # Every port first, so a taken one fails before any model loads.
        check_port_free(plan.host, plan.gateway_port)
        check_port_free(plan.host, plan.leader_port, setting="leader_port")
        for i in range(plan.agents):
            port = plan.first_agent_port + i if plan.first_agent_port else 0
            check_port_free(plan.host, port, setting="agent_port")
        for i in range(plan.agents):
            port = plan.first_agent_port + i if plan.first_agent_port else 0
            settings = AgentSettings(
                host=plan.host,
                port=port,
                name=f"agent-{i + 1}",
                model=plan.model,
                slots=plan.slots,
                log_level=plan.log_level,
                swarm_token=plan.swarm_token,
            )
            agent = AgentServer(settings)
            await agent.start()
            self.agents.append(agent)
        # Models load side by side in worker threads while the leader comes up.
        try:
            await asyncio.gather(*(agent.load() for agent in self.agents))
        except Exception as error:  # whatever llama.cpp or LiteLLM raise
            raise model_unloadable(error) from None
        leader_settings = LeaderSettings(
            host=plan.host,
            port=plan.leader_port,
            agents=[a.address for a in self.agents],
            participants_per_agent=plan.participants_per_agent,
            voice_models=list(self._voice_models()),
            default_temperature=plan.temperature,
            log_level=plan.log_level,
            swarm_token=plan.swarm_token,
            **({"db": plan.db} if plan.db else {}),
        )
        self.leader = LeaderServer(leader_settings)
        await self.leader.start()
        gateway_settings = GatewaySettings(
            host=plan.host,
            port=plan.gateway_port,
            leader=self.leader.address,
            log_level=plan.log_level,
            swarm_token=plan.swarm_token,
        )
        self._gateway = build_server(gateway_settings)
        self._gateway.config.install_signal_handlers = False  # the swarm owns the signals
        self._gateway_task = asyncio.create_task(run_server(self._gateway, gateway_settings))
        while not self._gateway.started:
            if self._gateway_task.done():
                self._gateway_task.result()  # raises why it could not start
            await asyncio.sleep(0.05)
        port = self._gateway.servers[0].sockets[0].getsockname()[1]
        self.gateway_url = f"http://{plan.host}:{port}"

    def _voice_models(self) -> tuple[str, ...]:
        plan = self.plan
        if plan.voice_models is None and plan.model is not None:
            return ()  # the user's own model: every voice on it
        wanted = DEFAULT_VOICE_MODELS if plan.voice_models is None else plan.voice_models
        for agent in self.agents:
            served = agent.served_models()
            missing = [m for m in wanted if m not in served]
            if not missing:
                continue
            if plan.voice_models is not None:  # asked for by name: refuse to start
                raise SwarmError(
                    f"voice_models: {agent.settings.name} does not serve "
                    f"{', '.join(missing)} (it serves {', '.join(served)})"
                )
            # The default team, e.g. SmolLM2 not installed: every voice on the default.
            log.warning(
                "%s does not serve %s: its voices use its default model",
                agent.settings.name,
                ", ".join(missing),
            )
            return ()
        return wanted

    def voices(self) -> list[tuple[str, str]]:
        """(participant, model id) of every voice, in the leader's order."""
        if self.leader is None:
            return []
        defaults = {a.address: a.default_model() for a in self.agents}
        return [
            (p.name, p.model or defaults.get(p.address, "")) for p in self.leader.participants.all()
        ]

    async def stop(self) -> None:
        if self._gateway is not None:
            self._gateway.should_exit = True
            if self._gateway_task is not None:
                with contextlib.suppress(Exception):
                    await self._gateway_task
        if self.leader is not None:
            await self.leader.stop()
        for agent in self.agents:
            await agent.drain()
