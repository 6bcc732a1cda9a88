"""Agents behind a Kubernetes headless Service: its DNS name resolves to one record per
ready pod. SRV records (`_grpc._tcp.<service>`) give ports too; plain A/AAAA records
use the configured agent port."""

from __future__ import annotations

import asyncio
import logging

import dns.asyncresolver
import dns.exception
import dns.resolver

from conclave.leader.discovery.directory import AgentDirectory, AgentEntry
from conclave.leader.discovery.gate import AgentGate

log = logging.getLogger(__name__)


async def resolve_agents(
    service: str, port: int, resolver: dns.asyncresolver.Resolver | None = None
) -> list[AgentEntry]:
    resolver = resolver or dns.asyncresolver.Resolver()
    try:
        answer = await resolver.resolve(f"_grpc._tcp.{service}", "SRV")
        return [
            AgentEntry(
                address=f"{str(r.target).rstrip('.')}:{r.port}",
                name=str(r.target).split(".")[0],
                source="kubernetes",
            )
            for r in answer
        ]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        pass
    entries = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = await resolver.resolve(service, rdtype)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            continue
        for record in answer:
            host = record.address
            address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            entries.append(AgentEntry(address=address, name=host, source="kubernetes"))
    return entries


class KubernetesWatcher:
    def __init__(
        self,
        directory: AgentDirectory,
        *,
        service: str,
        port: int,
        refresh_s: float,
        resolver: dns.asyncresolver.Resolver | None = None,
        gate: AgentGate | None = None,
    ) -> None:
        self._directory = directory
        self._gate = gate or AgentGate()
        self._service = service
        self._port = port
        self._refresh_s = refresh_s
        self._resolver = resolver
        self._task: asyncio.Task | None = None

    async def refresh(self) -> None:
        try:
            entries = await resolve_agents(self._service, self._port, self._resolver)
        except dns.exception.DNSException as error:
            log.warning("kubernetes discovery: %s: %s", self._service, error)
            return  # keep the last known table rather than dropping every agent
        self._directory.replace_source("kubernetes", await self._gate.admitted(entries))

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self.refresh()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
