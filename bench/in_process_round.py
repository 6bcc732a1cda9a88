"""One round on an in-process RoundRunner, run to its decision (the benchmarks that
measure strategies and answer quality both ask rounds this way)."""

from __future__ import annotations

import asyncio

from conclave.errors import ConclaveError
from conclave.leader.events import RoundDecided
from conclave.leader.rounds import RoundRunner
from conclave.leader.types import RoundRecord, RoundRequest


async def decided_round(
    runner: RoundRunner, request: RoundRequest, timeout_s: float
) -> RoundRecord | str:
    """The decided round, or why there is none (a missed quorum is a result too)."""
    try:
        async with asyncio.timeout(timeout_s):
            async for event in runner.run(request):
                if isinstance(event, RoundDecided):
                    return event.record
    except (ConclaveError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    return "the round ended without a decision"
