"""The whole local swarm in one process: agent services, a leader, the gateway.

One asyncio loop runs them all (grpc.aio wants one loop per process); the models decode
in their own threads, so the loop stays free for the network. Agents started elsewhere
(another PC, a Pi blade) join by address, beside the local ones or instead of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError
from conclave.gateway.server import build_server, run_server
from conclave.gateway.settings import GatewaySettings
from conclave.grpc_channels import Channels
from conclave.leader.server import LeaderServer
from conclave.leader.settings import LeaderSettings
from conclave.services.hardware import detect_hardware
from conclave.services.model_source import SMOLLM2
from conclave.services.recommend import threads_per_agent
from conclave.services.server import AgentServer, model_unloadable
from conclave.services.settings import AgentSettings
from conclave.startup import check_port_free
from conclave.swarm_security import SwarmSecurity

log = logging.getLogger(__name__)

# The voices of each agent when it serves the bundled models: the team the quality
# benchmark measured best on a 2-core machine (docs/benchmarks.md, "The default swarm").
# Three SmolLM2 voices at 0.5 had the best mean accuracy over the five shipped tasks for
# a majority vote of three (the intervals overlap; Gemma's voices are ahead on capitals
# and yes/no, SmolLM2's far ahead on sums and products).
DEFAULT_VOICE_MODELS: tuple[str, ...] = (SMOLLM2.id, SMOLLM2.id, SMOLLM2.id)
DEFAULT_TEMPERATURE = 0.5
# Addresses that bind every interface: nobody can dial them from another machine.
WILDCARDS = ("0.0.0.0", "::", "")


class SwarmError(ValueError):
    """The plan cannot run on these agents; the message names the setting."""


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    agents: int = 1  # agent services started here (0: only `remote_agents`)
    participants_per_agent: int = 3
    host: str = "127.0.0.1"  # what every service binds; 0.0.0.0 serves the LAN
    # Agent services already running elsewhere, HOST:PORT: each gets the same voices.
    remote_agents: tuple[str, ...] = ()
    discover: bool = False  # and those that announce themselves on zeroconf, as they come
    gateway_port: int = 8080
    leader_port: int = 50050
    first_agent_port: int = 50051  # 0: any free port for every agent
    model: str | None = None
    # Models the voices of each agent ask for, in turn; None: DEFAULT_VOICE_MODELS when
    # the agents serve the bundled models (no `model`), else each agent's default.
    voice_models: tuple[str, ...] | None = None
    temperature: float = DEFAULT_TEMPERATURE  # the rounds' default temperature
    slots: int | None = None
    threads: int | None = None  # decode threads per agent; None: the cores split between them
    db: Path | None = None
    log_level: str = "WARNING"
    # Every gRPC port of the swarm requires it and every member carries it; given to the
    # servers in memory, never on a command line or in a child's environment.
    swarm_token: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteAgent:
    """An agent service this swarm did not start, as it described itself at start-up."""

    address: str
    name: str
    default_model: str
    served: tuple[str, ...]


async def probe(address: str, clients: AgentClients) -> RemoteAgent:
    """Asks a running agent who it is and what it serves; one line naming the flag if not."""
    try:
        info = await clients.info(address, timeout=5.0)
        models = await clients.models(address, timeout=5.0)
    except ConclaveError as error:
        raise SwarmError(f"agents_at: the agent at {address} does not answer ({error})") from None
    return RemoteAgent(
        address=address,
        name=info.name or address,
        default_model=info.model.id,
        served=tuple(m.id for m in models),
    )


def dialable(host: str) -> str:
    """An address a client can dial for a service bound to `host` (this machine's LAN
    address for a wildcard bind, so the printed URLs work from other machines too)."""
    if host not in WILDCARDS:
        return host
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect(("192.0.2.1", 9))  # TEST-NET: picks the outgoing interface, sends nothing
        return udp.getsockname()[0]
    return socket.gethostname()


class LocalSwarm:
    def __init__(self, plan: SwarmPlan) -> None:
        self.plan = plan
        self.agents: list[AgentServer] = []
        self.remote: list[RemoteAgent] = []
        self.leader: LeaderServer | None = None
        self._gateway = None
        self._gateway_task: asyncio.Task | None = None
        self.gateway_url = ""
        self.threads = 0  # decode threads of each agent, once started

    async def start(self) -> None:
        plan = self.plan
        # Every port first, so a taken one fails before any model loads.
        check_port_free(plan.host, plan.gateway_port)
        check_port_free(plan.host, plan.leader_port, setting="leader_port")
        for i in range(plan.agents):
            port = plan.first_agent_port + i if plan.first_agent_port else 0
            check_port_free(plan.host, port, setting="agent_port")
        if plan.agents < 1 and not plan.remote_agents and not plan.discover:
            raise SwarmError(
                "agents: no agent to ask: --agents N (N >= 1), --agents-at HOST:PORT or --discover"
            )
        if plan.remote_agents:
            # Joined agents are asked with the swarm's token, as the leader will ask them.
            clients = AgentClients(
                Channels(SwarmSecurity(token=plan.swarm_token)), owns_channels=True
            )
            try:
                self.remote = list(
                    await asyncio.gather(*(probe(a, clients) for a in plan.remote_agents))
                )
            finally:
                await clients.close()
        hardware = detect_hardware()
        # The agents share this machine's cores: each gets its part, not all of them.
        # (--agents 0: only joined agents, none here to share the cores.)
        self.threads = plan.threads or threads_per_agent(hardware, max(plan.agents, 1))
        log.info(
            "%d agent(s) on %d physical core(s): %d decode thread(s) each",
            plan.agents,
            hardware.physical_cores,
            self.threads,
        )
        for i in range(plan.agents):
            port = plan.first_agent_port + i if plan.first_agent_port else 0
            settings = AgentSettings(
                host=plan.host,
                port=port,
                name=f"agent-{i + 1}",
                model=plan.model,
                slots=plan.slots,
                threads=self.threads,
                log_level=plan.log_level,
                swarm_token=plan.swarm_token,
            )
            agent = AgentServer(settings, hardware=hardware)
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
            agents=[*(self._dial(a) for a in self.agents), *(r.address for r in self.remote)],
            participants_per_agent=plan.participants_per_agent,
            discover=plan.discover,
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
            leader=self._dial(self.leader),
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
        self.gateway_url = f"http://{dialable(plan.host)}:{port}"

    def _dial(self, server: AgentServer | LeaderServer) -> str:
        """Where this process reaches its own service (the leader dials the local agents,
        the gateway the leader)."""
        return f"{dialable(self.plan.host)}:{server.port}"

    def _voice_models(self) -> tuple[str, ...]:
        plan = self.plan
        if plan.voice_models is None and plan.model is not None:
            return ()  # the user's own model: every voice on it
        if plan.voice_models is None and plan.discover:
            # Agents found later may serve anything (a blade its own GGUF): each voice
            # asks for its agent's default rather than a team nobody checked.
            return ()
        wanted = DEFAULT_VOICE_MODELS if plan.voice_models is None else plan.voice_models
        serving = [(a.settings.name, a.served_models()) for a in self.agents]
        serving += [(r.name, list(r.served)) for r in self.remote]
        for name, served in serving:
            missing = [m for m in wanted if m not in served]
            if not missing:
                continue
            if plan.voice_models is not None:  # asked for by name: refuse to start
                raise SwarmError(
                    f"voice_models: {name} does not serve "
                    f"{', '.join(missing)} (it serves {', '.join(served)})"
                )
            # The default team, e.g. SmolLM2 not installed or a remote agent on its own
            # GGUF: every voice on its agent's default model.
            log.warning(
                "%s does not serve %s: the voices use their agents' default models",
                name,
                ", ".join(missing),
            )
            return ()
        return wanted

    def voices(self) -> list[tuple[str, str]]:
        """(participant, model id) of every voice, in the leader's order."""
        if self.leader is None:
            return []
        defaults = {self._dial(a): a.default_model() for a in self.agents}
        defaults.update({r.address: r.default_model for r in self.remote})
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
