"""Which agents may join the leader's directory: with TLS on, only those whose
certificate chains to the swarm CA. A device on the LAN that announces `_conclave._tcp`,
or a listed address that answers with another certificate (or none), is skipped and
logged, so it never becomes a voice.

The gate is what makes a refusal visible and keeps strangers out of ListAgents and the
rounds' participant lists; the channels enforce the same on every connection anyway
(they verify the peer each time), so an agent that cannot be reached at admission is let
in and checked by its channel when it answers.
"""

from __future__ import annotations

import asyncio
import logging

from conclave.leader.discovery.directory import AgentEntry
from conclave.swarm_security import NO_SECURITY, SwarmSecurity

log = logging.getLogger(__name__)


class AgentGate:
    def __init__(self, security: SwarmSecurity = NO_SECURITY) -> None:
        self._security = security
        self._accepted: set[str] = set()
        self._refused: dict[str, str] = {}  # address -> why, logged once per reason

    async def admits(self, entry: AgentEntry) -> bool:
        if not self._security.tls or entry.address in self._accepted:
            return True
        problem = await asyncio.to_thread(self._security.certificate_problem, entry.address)
        if problem is None:
            self._accepted.add(entry.address)
            self._refused.pop(entry.address, None)
            return True
        if self._refused.get(entry.address) != problem:
            self._refused[entry.address] = problem
            log.warning(
                "skipping agent %s at %s (%s): %s", entry.name, entry.address, entry.source, problem
            )
        return False

    async def admitted(self, entries: list[AgentEntry]) -> list[AgentEntry]:
        verdicts = await asyncio.gather(*map(self.admits, entries))
        return [e for e, ok in zip(entries, verdicts, strict=True) if ok]

    def forget(self, address: str) -> None:
        """An agent that left: if it comes back, it is checked again."""
        self._accepted.discard(address)
