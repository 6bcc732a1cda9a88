"""Finds agents that announce `_conclave._tcp.local.` and drops them when they vanish."""

from __future__ import annotations

import asyncio
import logging
import socket

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from conclave.leader.discovery.directory import SERVICE_TYPE, AgentDirectory, AgentEntry
from conclave.leader.discovery.gate import AgentGate
from conclave.zeroconf_options import zeroconf_options

log = logging.getLogger(__name__)


def _text(properties: dict[bytes, bytes | None], key: str) -> str:
    value = properties.get(key.encode())
    return value.decode("utf-8", errors="replace") if value else ""


class ZeroconfBrowser:
    def __init__(
        self,
        directory: AgentDirectory,
        *,
        interfaces: list[str] | None,
        gate: AgentGate | None = None,
    ) -> None:
        self._directory = directory
        self._gate = gate or AgentGate()
        self._interfaces = interfaces
        self._zeroconf: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._addresses: dict[str, str] = {}  # service name -> host:port
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        kwargs = zeroconf_options(self._interfaces)
        self._zeroconf = AsyncZeroconf(**kwargs)
        self._browser = AsyncServiceBrowser(
            self._zeroconf.zeroconf, [SERVICE_TYPE], handlers=[self._on_change]
        )

    def _on_change(self, zeroconf, service_type: str, name: str, state_change) -> None:
        # Called in the zeroconf loop; resolving needs awaiting, so hand it to a task.
        task = asyncio.ensure_future(self._handle(service_type, name, state_change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, service_type: str, name: str, change: ServiceStateChange) -> None:
        if change is ServiceStateChange.Removed:
            address = self._addresses.pop(name, None)
            if address:
                self._gate.forget(address)
                self._directory.remove(address, source="zeroconf")
            return
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zeroconf.zeroconf, 3000):
            log.warning("zeroconf: could not resolve %s", name)
            return
        addresses = info.parsed_scoped_addresses() or [
            socket.inet_ntoa(a) for a in info.addresses if len(a) == 4
        ]
        if not addresses or not info.port:
            return
        host = addresses[0]
        address = f"[{host}]:{info.port}" if ":" in host else f"{host}:{info.port}"
        props = info.properties or {}
        slots = _text(props, "slots")
        entry = AgentEntry(
            address=address,
            name=_text(props, "name") or name.removesuffix("." + SERVICE_TYPE),
            source="zeroconf",
            model=_text(props, "model"),
            slots=int(slots) if slots.isdigit() else 0,
            version=_text(props, "version"),
        )
        if not await self._gate.admits(entry):  # anyone on the LAN may announce
            return
        self._addresses[name] = address
        self._directory.add(entry)

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zeroconf is not None:
            await self._zeroconf.async_close()
        for task in list(self._tasks):
            task.cancel()
