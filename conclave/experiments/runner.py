"""Runs an experiment: every unit is one leader round, tagged with the run, the cell, the
item and the repeat; finished rounds are journaled; reports are written at the end (also
after an interrupt, for what is done).

The runner only schedules: the run folder (`run_folder`) owns the state and the journal,
`preflight` checks the cells against the leader, `adopt` finds rounds the leader stored
that the journal missed. Resuming: a unit is done when the journal has it, or when the
leader has stored a decided round with its tags. Either way it is not asked again.

Errors: a round the leader refuses as a bad request stops the run (it is the config's
fault, and every other round of the cell would fail the same way); agents too busy
(RESOURCE_EXHAUSTED) are retried with backoff, never sooner than the leader's retry
hint; a round stored without a decision while every agent worked (no quorum of usable
answers) is a result and counts as wrong; anything else leaves the unit for the next
run, and `MAX_CONSECUTIVE_ERRORS` in a row stop this one.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from conclave.errors import ConclaveError, InvalidRequest, NotFound, Overloaded, Unavailable
from conclave.experiments.adopt import adopt_stored_rounds
from conclave.experiments.config import Experiment
from conclave.experiments.errors import ConfigError, ExperimentAborted
from conclave.experiments.journal import RunState
from conclave.experiments.plan import Unit, units_of
from conclave.experiments.preflight import Voices, preflight
from conclave.experiments.progress import NoProgress, ProgressSink
from conclave.experiments.results import ItemResult, outcome_of, result_of
from conclave.experiments.run_folder import Key, RunFolder
from conclave.experiments.stats import CellSummary
from conclave.leader.client import LeaderClientSync
from conclave.leader.store import RoundSummary
from conclave.leader.types import AgentListing, RoundRecord, RoundSpec
from conclave.swarm_security import (
    SwarmClientFields,
    SwarmSecurity,
    SwarmSecurityError,
    local_token_file,
)

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_ERRORS = 5
CONNECT_TIMEOUT_S = 30.0
BACKOFF_S = 1.0  # first wait after RESOURCE_EXHAUSTED; doubles per retry, at most 30 s
MAX_BACKOFF_S = 30.0


@dataclass
class RunReport:
    out_dir: Path
    state: RunState
    summaries: list[CellSummary]
    ran: int = 0  # rounds asked in this run
    adopted: int = 0  # rounds found stored by the leader but missing from the journal
    resumed: int = 0  # rounds the journal already had
    left: int = 0  # rounds still to do
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.left == 0


class Leader(Protocol):
    """What the runner asks of its leader (a `LeaderClientSync`)."""

    address: str

    def wait_ready(self, timeout: float) -> None: ...
    def list_agents(self) -> list[AgentListing]: ...
    def decide(self, spec: RoundSpec, *, timeout: float) -> RoundRecord: ...
    def get_round(self, round_id: str) -> RoundRecord: ...
    def tagged(self, key: str, value: str) -> Iterator[RoundSummary]: ...
    def cancel_all(self) -> None: ...
    def close(self) -> None: ...


class LeaderHost(Protocol):
    """A leader the runner started (see embedded.InProcessLeader)."""

    @property
    def strategies(self) -> tuple[str, ...]: ...

    def close(self) -> None: ...


class _Fatal(Exception):
    pass


class ExperimentRunner:
    def __init__(
        self,
        experiment: Experiment,
        out_dir: Path,
        *,
        progress: ProgressSink | None = None,
        retry_failed: bool = False,
        start_leader: Callable[[Experiment, Path], tuple[str, LeaderHost]] | None = None,
        connect: Callable[[str], Leader] | None = None,
        swarm: SwarmClientFields | None = None,
    ) -> None:
        """`swarm`: the swarm token and certificates the runner's calls carry (and the
        leader it starts itself checks and carries to its agents)."""
        self.experiment = experiment
        self.config = experiment.config
        self.out_dir = out_dir
        self.progress = progress or NoProgress()
        self.retry_failed = retry_failed
        self._swarm = swarm or SwarmClientFields()
        self._start_leader = start_leader or functools.partial(_start_in_process, swarm=self._swarm)
        self._connect = connect or self._connect_securely
        self._stop = threading.Event()
        self._errors_in_a_row = 0
        self._lock = threading.Lock()

    def _connect_securely(self, address: str) -> Leader:
        try:
            fallback = local_token_file(address)
            security = SwarmSecurity.from_settings(self._swarm, fallback_token_file=fallback)
        except SwarmSecurityError as error:
            raise ConfigError(str(error)) from None
        return LeaderClientSync(address, security=security)

    # -- the run ----------------------------------------------------------------------

    def run(self) -> RunReport:
        """Runs what is left; returns the report (also when interrupted: then it raises
        KeyboardInterrupt after writing the reports). Raises ConfigError before any round
        when the config does not fit the output folder or the leader."""
        self._stop.clear()
        folder = RunFolder.open(self.experiment, self.out_dir)
        host: LeaderHost | None = None
        db: Path | None = None
        if self.config.leader:
            address = self.config.leader
        else:
            db = self.config.participants.db or self.out_dir / "rounds.db"
            address, host = self._start_leader(self.experiment, db)
        leader = self._connect(address)
        try:
            leader.wait_ready(CONNECT_TIMEOUT_S)
            voices = preflight(
                self.experiment,
                leader.list_agents,
                leader=leader.address,
                strategies=host.strategies if host is not None else (),
            )
            origin = {
                "leader": self.config.leader or "in-process",
                "db": str(db) if db else folder.state.db,
            }
            return self._run_units(leader, folder, voices, origin)
        finally:
            leader.close()
            if host is not None:
                host.close()

    def _run_units(
        self, leader: Leader, folder: RunFolder, voices: Voices, origin: dict[str, str | None]
    ) -> RunReport:
        """`origin`: the state's `leader` and `db` (where this run's rounds go)."""
        exp = self.experiment
        units = units_of(list(exp.cells), exp.dataset.items, list(exp.seeds))
        by_key = {u.key: u for u in units}
        done = folder.results(decided_only=self.retry_failed)
        resumed = sum(k in by_key for k in done)
        adopted = adopt_stored_rounds(
            folder, by_key, done, tagged=leader.tagged, get_round=leader.get_round
        )
        pending = [u for u in units if u.key not in done]
        folder.update(**origin, units=len(units), done=len(units) - len(pending), status="running")
        report = RunReport(self.out_dir, folder.state, [], resumed=resumed, adopted=adopted)
        log.info(
            "run %s: %d rounds, %d done (%d adopted from the store), %d to go",
            folder.run_id,
            len(units),
            len(units) - len(pending),
            adopted,
            len(pending),
        )
        self.progress.begin(
            [
                (
                    c.id,
                    sum(u.cell is c for u in units),
                    sum(u.cell is c and u.key in done for u in units),
                )
                for c in exp.cells
            ]
        )
        interrupted = False
        try:
            self._pool(leader, folder, pending, voices, done, report)
        except KeyboardInterrupt:
            interrupted = True
            self._stop.set()
            leader.cancel_all()
        finally:
            self.progress.end()
            report.left = sum(u.key not in done for u in units)
            folder.update(
                done=len(units) - report.left,
                status="complete" if report.left == 0 else "incomplete",
            )
            report.state = folder.state
            report.summaries = folder.write_reports(exp)
        if interrupted:
            raise KeyboardInterrupt
        return report

    def _pool(
        self,
        leader: Leader,
        folder: RunFolder,
        pending: list[Unit],
        voices: Voices,
        done: dict[Key, ItemResult],
        report: RunReport,
    ) -> None:
        """Asks the pending units, `concurrency` at a time; submitted a few at a time, so
        stopping never waits for a long queue."""
        queue = iter(pending)
        running: dict[Future[ItemResult | None], Unit] = {}
        with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="round") as pool:

            def refill() -> None:
                while len(running) < self.config.concurrency and not self._stop.is_set():
                    unit = next(queue, None)
                    if unit is None:
                        return
                    spec = round_spec(unit, voices[unit.cell.id], folder.run_id, self.config.name)
                    running[pool.submit(self._ask, leader, unit, spec)] = unit

            refill()
            try:
                while running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        self._settle(leader, folder, running.pop(future), future, done, report)
                    refill()
            finally:
                self._stop.set()
                leader.cancel_all()

    def _settle(
        self,
        leader: Leader,
        folder: RunFolder,
        unit: Unit,
        future: Future[ItemResult | None],
        done: dict[Key, ItemResult],
        report: RunReport,
    ) -> None:
        """Journals a finished unit's result. A failed unit is left for the next run and
        its error reported; too many in a row, or a fatal one, stop the run."""
        try:
            result = future.result()
        except _Fatal as error:
            self._stop.set()
            leader.cancel_all()
            raise ExperimentAborted(str(error)) from None
        except ConclaveError as error:
            described = f"{type(error).__name__}: {error}"
            report.errors.append(f"{unit.cell.id}/{unit.item.id}: {described}")
            if self._failure() >= MAX_CONSECUTIVE_ERRORS:
                self._stop.set()
                raise ExperimentAborted(
                    f"{MAX_CONSECUTIVE_ERRORS} rounds in a row failed "
                    f"(last: {described}); run again to resume"
                ) from None
            return
        if result is None:  # stopped before it ran
            return
        self._success()
        folder.record(result)
        done[result.key] = result
        report.ran += 1
        self.progress.advance(unit.cell.id)

    def _ask(self, leader: Leader, unit: Unit, spec: RoundSpec) -> ItemResult | None:
        """One unit's round, retried while the agents are busy; None when stopped."""
        for attempt in range(self.config.retries + 1):
            if self._stop.is_set():
                return None
            try:
                record = leader.decide(spec, timeout=self.config.round_timeout_s)
                return result_of(unit, outcome_of(record))
            except ConclaveError as error:
                if self._stop.is_set():
                    return None
                if isinstance(error, InvalidRequest | NotFound):
                    raise _Fatal(
                        f"{unit.cell.source}: the leader refused cell {unit.cell.id!r}: {error}"
                    ) from None
                if isinstance(error, Overloaded) and attempt < self.config.retries:
                    delay = min(MAX_BACKOFF_S, max(BACKOFF_S * 2.0**attempt, error.retry_after_s))
                    log.info("%s: agents busy, retrying in %.0f s", unit.cell.id, delay)
                    self._stop.wait(delay)
                    continue
                if isinstance(error, Unavailable) and error.round_id:
                    stored = outcome_of(leader.get_round(error.round_id))
                    if not stored.broken:
                        # No quorum of usable answers from working agents: that is the
                        # team's result. Lost to broken agents, it is not: ask again later.
                        return result_of(unit, stored)
                raise
        return None

    def _failure(self) -> int:
        with self._lock:
            self._errors_in_a_row += 1
            return self._errors_in_a_row

    def _success(self) -> None:
        with self._lock:
            self._errors_in_a_row = 0


def round_spec(unit: Unit, voices: tuple[str, ...], run_id: str, experiment: str) -> RoundSpec:
    """The round that asks `unit`, tagged so the leader's store finds it again."""
    cell = unit.cell
    return RoundSpec(
        messages=unit.item.messages,
        strategy=cell.strategy,
        method=cell.method,
        participants=voices,
        samples_per_participant=cell.samples,
        max_tokens=cell.max_tokens,
        temperature=cell.temperature,
        top_p=cell.top_p,
        seed=unit.seed,
        quorum=cell.quorum,
        participant_timeout_s=cell.participant_timeout_s,
        stop=cell.stop,
        params=dict(cell.params),
        tags={
            "experiment": run_id,
            "experiment_name": experiment,
            "cell": cell.id,
            "item": unit.item.id,
            "repeat": str(unit.repeat),
            "seed": str(unit.seed),
        },
    )


def _start_in_process(
    experiment: Experiment, db: Path, *, swarm: SwarmClientFields
) -> tuple[str, LeaderHost]:
    from conclave.experiments.embedded import InProcessLeader

    host = InProcessLeader(experiment.config.participants, db=db, swarm=swarm)
    try:
        return host.start(), host
    except BaseException:
        host.close()
        raise
