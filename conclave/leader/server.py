"""Wires the leader: discovery, the round store, the runner, the gRPC service."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

from conclave.agents.rpc import AgentClients
from conclave.errors import ConclaveError
from conclave.grpc_channels import Channels
from conclave.grpc_server import ServiceHost
from conclave.leader.agent_watch import AgentWatch
from conclave.leader.discovery import AgentDirectory, AgentEntry
from conclave.leader.discovery.gate import AgentGate
from conclave.leader.discovery.kubernetes import KubernetesWatcher
from conclave.leader.discovery.zeroconf_browser import ZeroconfBrowser
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner, Strategy
from conclave.leader.servicer import LeaderServicer
from conclave.leader.settings import LeaderSettings
from conclave.leader.store import RoundStore
from conclave.leader.strategies import round_strategies
from conclave.startup import ExitCode, StartupError, check_port_free
from conclave.swarm_security import SwarmSecurity
from conclave.v1 import leader_pb2, leader_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = leader_pb2.DESCRIPTOR.services_by_name["LeaderService"].full_name


def default_strategies() -> dict[str, Strategy]:
    return round_strategies()


class LeaderServer:
    def __init__(
        self, settings: LeaderSettings, *, strategies: dict[str, Strategy] | None = None
    ) -> None:
        self.settings = settings
        self.directory = AgentDirectory()
        # One token and one set of certificates: the leader's port checks them, and its
        # calls to the agents carry them.
        self.security = SwarmSecurity.from_settings(settings)
        self.clients = AgentClients(Channels(self.security), owns_channels=True)
        self.gate = AgentGate(self.security)
        self.store = _open_store(settings.db)
        # Rounds the previous leader on this file left running died with it.
        interrupted = self.store.interrupt_running()
        if interrupted:
            log.warning(
                "%d round(s) in flight when the last leader stopped are marked interrupted: %s",
                len(interrupted),
                ", ".join(interrupted[:10]) + (" ..." if len(interrupted) > 10 else ""),
            )
        self.participants = ParticipantRegistry(
            self.directory,
            configured=settings.participants,
            per_agent=settings.participants_per_agent,
            voice_models=settings.voice_models,
        )
        self.runner = RoundRunner(
            clients=self.clients,
            store=self.store,
            participants=self.participants,
            strategies=strategies or default_strategies(),
            max_participants=settings.max_participants,
        )
        self._host = ServiceHost(SERVICE_NAME, security=self.security)
        leader_pb2_grpc.add_LeaderServiceServicer_to_server(
            LeaderServicer(
                settings=settings,
                runner=self.runner,
                store=self.store,
                directory=self.directory,
                participants=self.participants,
                clients=self.clients,
            ),
            self._host.server,
        )
        self._sources: list = []
        self._watch: AgentWatch | None = None

    @property
    def port(self) -> int | None:
        return self._host.port

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{self.port}"

    async def start(self) -> int:
        self._host.bind(self.settings.host, self.settings.port)
        await self._add_static_agents()
        if self.settings.discover:
            if self.security.token and not self.security.tls:
                log.warning(
                    "discover with a swarm token but no swarm_ca: any device that announces "
                    "_conclave._tcp is dialled with the token (docs/deploy.md, section 8)"
                )
            browser = ZeroconfBrowser(
                self.directory, interfaces=self.settings.discovery_interfaces, gate=self.gate
            )
            await browser.start()
            self._sources.append(browser)
        if self.settings.kubernetes_service:
            watcher = KubernetesWatcher(
                self.directory,
                service=self.settings.kubernetes_service,
                port=self.settings.kubernetes_port,
                refresh_s=self.settings.kubernetes_refresh_s,
                gate=self.gate,
            )
            await watcher.start()
            self._sources.append(watcher)
        await self._host.start()
        await self._host.set_serving(True)
        self._watch = AgentWatch(
            self.directory,
            self.clients,
            period_s=self.settings.agent_check_s,
            on_change=self._host.set_service_serving,
        )
        await self._watch.start()
        log.info(
            "leader listening on %s (%d agents known)", self.address, len(self.directory.entries())
        )
        return self.port

    async def _add_static_agents(self) -> None:
        """Listed agents are named after their own GetInfo name when they answer now;
        an agent that is still loading keeps its address as its name."""
        configured = [p.address for p in self.settings.participants]
        addresses = list(dict.fromkeys([*self.settings.agents, *configured]))

        async def name_of(address: str) -> str:
            try:
                return (await self.clients.info(address, timeout=2.0)).name or address
            except ConclaveError:
                return address

        names = await asyncio.gather(*map(name_of, addresses))
        entries = [
            AgentEntry(address=address, name=name, source="static")
            for address, name in zip(addresses, names, strict=True)
        ]
        for entry in await self.gate.admitted(entries):
            self.directory.add(entry)

    async def stop(self, grace: float = 2.0) -> None:
        if self._watch is not None:
            await self._watch.close()
        await self._host.set_serving(False)
        for source in self._sources:
            await source.close()
        await self._host.stop(grace)
        await self.runner.all_stored()  # decided rounds already answered reach the disk
        await self.clients.close()
        self.store.close()


def _open_store(path: Path) -> RoundStore:
    try:
        return RoundStore.open(path)
    except (ConclaveError, OSError, sqlite3.Error) as error:
        # A directory, a file that is not SQLite, a read-only place: say so in one line.
        why = getattr(error, "strerror", None) or str(error).removeprefix(
            f"cannot open round store {path}: "
        )
        raise StartupError(
            f"db: cannot open the round store {path} ({why}); set --db to a SQLite file "
            "in a writable directory (it is created if missing)",
            code=ExitCode.ROUND_STORE,
        ) from None


async def serve(settings: LeaderSettings, *, on_ready: Callable[[str], None] | None = None) -> None:
    check_port_free(settings.host, settings.port)  # before the store migrates and logs
    server = LeaderServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Stopped on every way out: a grpc.aio server still running when asyncio.run closes
    # its loop keeps the process alive with its port bound.
    try:
        await server.start()
        if on_ready:
            on_ready(server.address)
        await stop.wait()
    finally:
        await server.stop()
