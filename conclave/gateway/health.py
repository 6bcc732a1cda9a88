"""`GET /health`: what the gateway can reach, and why not when it cannot.

"ok" needs the leader and every agent it lists to answer; otherwise "degraded" with one
reason per thing that does not answer. Only a gateway that cannot answer a request at
all (no leader, or no agent that answers) says so with 503, so a load balancer or a
readiness probe takes it out; a swarm that lost some agents still answers, under
quorum, with 200 and its reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conclave.errors import NotFound, Unavailable
from conclave.leader.client import LeaderClient


@dataclass(frozen=True, slots=True)
class SwarmHealth:
    leader_ok: bool
    agents: int  # agents the leader lists
    reachable: int  # of them, those that answered
    reasons: tuple[str, ...]

    @property
    def status(self) -> str:
        return "ok" if not self.reasons else "degraded"

    @property
    def http_status(self) -> int:
        return 200 if self.leader_ok and self.reachable else 503

    def body(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "gateway": "ok",
            "leader": "ok" if self.leader_ok else "unreachable",
            "agents": self.agents,
            "agents_reachable": self.reachable,
            "reasons": list(self.reasons),
        }


async def swarm_health(leader: LeaderClient) -> SwarmHealth:
    if not await leader.healthy():
        return SwarmHealth(False, 0, 0, (f"leader {leader.address} does not answer",))
    try:
        listed = await leader.list_agents()
    except (Unavailable, NotFound) as error:
        return SwarmHealth(False, 0, 0, (f"leader {leader.address}: {error}",))
    reasons = [
        f"agent {a.name} ({a.address}) does not answer: {a.error}" for a in listed if a.error
    ]
    if not listed:
        reasons.append("the leader knows no agent services")
    reachable = sum(1 for a in listed if not a.error)
    return SwarmHealth(True, len(listed), reachable, tuple(reasons))
