"""Decided rounds whose record is still being written.

A decided round's answer goes to its caller first and its record to the store right
after (rounds.py): the caller should not wait for a disk. A reader of the store must
still never see such a round half done, so GetRound and ListRounds wait here for the
writes in flight (milliseconds), and the leader does not close its store before they end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

log = logging.getLogger(__name__)


class PendingWrites:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, round_id: str, write: Awaitable[None]) -> asyncio.Task[None]:
        """Runs `write` as a task of its own: a caller that goes away (its RPC cancelled
        the moment it has the answer) must not cut the write short."""
        task = asyncio.ensure_future(write)
        self._tasks[round_id] = task
        task.add_done_callback(lambda done: self._finished(round_id, done))
        return task

    def _finished(self, round_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(round_id) is task:
            del self._tasks[round_id]
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "round %s: the decided record was not stored", round_id, exc_info=task.exception()
            )

    def pending(self, round_id: str) -> bool:
        return round_id in self._tasks

    async def wait(self, round_id: str) -> None:
        """Until the round's write (if one is in flight) has ended, stored or failed."""
        task = self._tasks.get(round_id)
        if task is not None:
            await asyncio.wait({task})

    async def wait_all(self) -> None:
        """Until every write in flight now has ended."""
        if self._tasks:
            await asyncio.wait(set(self._tasks.values()))
