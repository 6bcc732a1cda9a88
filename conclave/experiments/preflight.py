"""Before the first round: the cells checked against the live leader.

The config was checked alone (`config.check`); here it meets the leader: are the
participants it names live, are there as many as `agent_counts` asks (waiting a while
for discovered or loading agents), does the leader know the strategies, are the
aggregator and the judge participants. Every problem is reported at once, before any
round runs.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence

from conclave.experiments.config import Experiment
from conclave.experiments.errors import ConfigError, Issue
from conclave.experiments.plan import Cell
from conclave.leader.types import AgentListing

log = logging.getLogger(__name__)

POLL_S = 0.5
Voices = dict[str, tuple[str, ...]]  # cell id -> its participants; () = all of the leader's


def participant_names(agents: Sequence[AgentListing]) -> list[str]:
    """Every live participant, interleaved across agent services (the first voice of
    each agent, then the second, ...) so "the first N" spreads over machines; agents
    that answer GetInfo first."""
    answering = [a for a in agents if not a.error] + [a for a in agents if a.error]
    voices = itertools.zip_longest(*(a.participants for a in answering))
    return [name for name in itertools.chain.from_iterable(voices) if name is not None]


def preflight(
    experiment: Experiment,
    list_agents: Callable[[], Sequence[AgentListing]],
    *,
    leader: str,
    strategies: tuple[str, ...] = (),
) -> Voices:
    """Checks every cell against the leader at `leader`; returns each cell's participants.
    `strategies` are the leader's when it runs here (a remote one is not asked)."""
    cells = experiment.cells
    names = _wait_for_participants(
        lambda: participant_names(list_agents()),
        need=max(_needed(c) for c in cells),
        wait_s=experiment.config.participants.wait_s,
    )
    issues: list[Issue] = []
    voices: Voices = {}
    for cell in cells:
        issues += _check_cell(cell, names, strategies)
        pool = list(cell.participants or names)
        chosen = pool[: cell.agent_count] if cell.agent_count else list(cell.participants or ())
        voices[cell.id] = tuple(chosen)
        aggregator = dict(cell.params).get("aggregator")
        if aggregator and aggregator not in (chosen or names):
            issues.append(
                Issue(
                    f"{cell.source}.params.aggregator",
                    f"{aggregator!r} is not among cell {cell.id!r}'s participants "
                    f"({', '.join(chosen or names)})",
                )
            )
    if issues:
        raise ConfigError(
            list(dict.fromkeys(issues)),
            source=f"{experiment.path} (checked with the leader at {leader})",
        )
    return voices


def _wait_for_participants(names_now: Callable[[], list[str]], *, need: int, wait_s: float):
    """Discovered or loading agents come in over time: wait up to `wait_s` for `need`."""
    deadline = time.monotonic() + wait_s
    names = names_now()
    if len(names) < need and wait_s > 0:
        log.warning(
            "waiting up to %.0f s for %d participants (the leader has %d)", wait_s, need, len(names)
        )
    while len(names) < need and time.monotonic() < deadline:
        time.sleep(POLL_S)
        names = names_now()
    return names


def _needed(cell: Cell) -> int:
    return cell.agent_count or (len(cell.participants) if cell.participants else 1)


def _check_cell(cell: Cell, names: list[str], known: tuple[str, ...]) -> list[Issue]:
    issues = []
    if known and cell.strategy not in known:
        issues.append(
            Issue(
                f"{cell.source}.strategy",
                f"this leader has no strategy {cell.strategy!r}; it has {', '.join(known)}",
            )
        )
    if not names:
        issues.append(Issue("participants", "the leader has no participants (no live agents)"))
        return issues
    missing = [n for n in cell.participants or () if n not in names]
    if missing:
        issues.append(
            Issue(
                f"{cell.source}.participants",
                f"unknown to the leader: {', '.join(missing)}; it has {', '.join(names)}",
            )
        )
    pool = cell.participants or names
    if cell.agent_count and cell.agent_count > len(pool):
        issues.append(
            Issue(
                "agent_counts",
                f"cell {cell.id!r} asks for {cell.agent_count} participants; "
                f"there are {len(pool)} ({', '.join(pool)})",
            )
        )
    judge = dict(cell.params).get("judge")
    if judge and judge not in names:
        issues.append(Issue(f"{cell.source}.params.judge", f"{judge!r} is not a participant"))
    return issues
