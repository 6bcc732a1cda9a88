"""The SQLite round store: every round, written whole or not at all.

One connection per store, shared by threads under a lock (the lock keeps one thread's
transaction from interleaving with another thread's statements). WAL lets readers in
other processes (the gateway, `experiment show`) read while the leader writes. The
`*_async` wrappers run the same calls in a worker thread so the event loop never waits
on the disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from conclave.errors import InvalidRequest, NotFound, Unavailable
from conclave.leader.store import codec, pagination
from conclave.leader.store.migrations import migrate
from conclave.leader.store.summary import RoundSummary
from conclave.leader.types import Candidate, RoundRecord

# Statuses the store itself gives a round (the runner sets the others: decided,
# no_quorum, failed).
RUNNING = "running"
INTERRUPTED = "interrupted"
INTERRUPTED_ERROR = "the leader stopped before the round was decided"
INTERRUPTED_DETAIL = "no decision: the leader stopped mid-round; the candidates heard are kept"

logger = logging.getLogger(__name__)

MAX_PAGE = 1000
BUSY_TIMEOUT_MS = 5000  # another process holds the write lock: wait for it, don't fail

# What sqlite3 raises for a value it cannot bind or a column it cannot hold (NaN -> NULL).
_BAD_VALUE = (
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
)

_SUMMARY_SQL = """
SELECT r.id, r.created_at, r.strategy, r.method, r.status, r.answer, r.agreement,
       r.wall_ms, r.tags_json,
       (SELECT COUNT(*) FROM candidates c WHERE c.round_id = r.id) AS n_candidates
FROM rounds r
"""


class RoundStore:
    """Rounds in one SQLite file. Build with `RoundStore.open(path)`; close when done
    (or use it as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> RoundStore:
        """Opens (creating it and its directories if needed) and migrates the store."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a round's writes are
        # one transaction and nothing is committed behind our back.
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("round store %s runs in %s mode, not WAL", path, mode)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            version = migrate(conn)
        except sqlite3.Error as exc:  # not a database, locked for too long, read-only dir
            conn.close()
            raise Unavailable(f"cannot open round store {path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        logger.debug("round store %s open at schema v%d", path, version)
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RoundStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------

    def save(
        self,
        record: RoundRecord,
        *,
        answers: Sequence[str] | None = None,
        replace: bool = False,
    ) -> None:
        """Writes the whole round in one transaction. `answers` (one per candidate, the
        extracted short answers) fills the candidates' answer column. Saving an existing
        id raises InvalidRequest unless `replace`, which swaps the old round out."""
        if answers is not None and len(answers) != len(record.candidates):
            raise InvalidRequest(
                f"answers has {len(answers)} entries for {len(record.candidates)} candidates",
                field="answers",
            )
        try:
            self._save(record, answers, replace)
        except (ValueError, TypeError, OverflowError, *_BAD_VALUE) as exc:
            # A value SQLite or JSON cannot hold (NaN, an int past 64 bits, an object);
            # the transaction has rolled back, so nothing of the round is stored.
            raise InvalidRequest(f"round {record.id!r} cannot be stored: {exc}") from exc

    def _save(self, record: RoundRecord, answers: Sequence[str] | None, replace: bool) -> None:
        # Serialize before taking the lock: a JSON field fails here, having written nothing.
        rows = codec.to_rows(record, answers)
        with self._transaction() as conn:
            exists = conn.execute("SELECT 1 FROM rounds WHERE id = ?", (record.id,)).fetchone()
            if exists and not replace:
                raise InvalidRequest(f"round {record.id!r} is already stored", field="id")
            if exists:
                conn.execute("DELETE FROM rounds WHERE id = ?", (record.id,))  # cascades
            _insert(conn, "rounds", [rows.round])
            _insert(conn, "participants", rows.participants)
            _insert(conn, "candidates", rows.candidates)
            _insert(conn, "vote_groups", rows.groups)
            _insert(conn, "round_tags", rows.tags)

    # -- a round in flight -------------------------------------------------------------
    #
    # A round is on disk from its first moment: `begin` writes its head and participants
    # (status RUNNING), `add_candidate` each answer as it arrives, and the final `save`
    # (replace=True) swaps in the whole decided record in one transaction. A leader that
    # dies in between leaves a RUNNING round, which the next leader's `interrupt_running`
    # turns INTERRUPTED: the id a client was given is never a 404.

    def begin(self, record: RoundRecord) -> None:
        """Stores the head of a round that is starting (its status should be RUNNING)."""
        if record.candidates:
            raise InvalidRequest("a round begins without candidates", field="candidates")
        self.save(record)

    def add_candidate(
        self, round_id: str, position: int, candidate: Candidate, answer: str = ""
    ) -> None:
        """Appends one candidate of a running round (the final `save` rewrites them all)."""
        row = codec.candidate_row(round_id, position, candidate, answer)
        try:
            with self._transaction() as conn:
                head = conn.execute(
                    "SELECT status FROM rounds WHERE id = ?", (round_id,)
                ).fetchone()
                if head is None:
                    raise NotFound(f"no round {round_id!r}")
                if head["status"] != RUNNING:
                    raise InvalidRequest(
                        f"round {round_id!r} is {head['status']}, not running", field="id"
                    )
                _insert(conn, "candidates", [row])
        except (ValueError, TypeError, OverflowError, *_BAD_VALUE) as exc:
            raise InvalidRequest(f"candidate of {round_id!r} cannot be stored: {exc}") from exc

    def discard(self, round_id: str) -> bool:
        """Deletes a round that turned out not to be one (every participant refused it as
        busy: a 429, counted in metrics, not kept). True if it was there."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM rounds WHERE id = ?", (round_id,)).rowcount > 0

    def interrupt_running(self) -> list[str]:
        """Marks every RUNNING round INTERRUPTED (its leader died before deciding it);
        returns their ids. Only a leader that is starting may call this: a RUNNING round
        of a live leader would be marked too (its final save puts it right again)."""
        with self._transaction() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM rounds WHERE status = ? ORDER BY created_at, id", (RUNNING,)
                )
            ]
            conn.execute(
                "UPDATE rounds SET status = ?, error = ?, detail = ? WHERE status = ?",
                (INTERRUPTED, INTERRUPTED_ERROR, INTERRUPTED_DETAIL, RUNNING),
            )
        return ids

    # -- reading ---------------------------------------------------------------------

    def get(self, round_id: str) -> RoundRecord:
        with self._transaction("DEFERRED") as conn:  # one snapshot across the four tables
            head = conn.execute("SELECT * FROM rounds WHERE id = ?", (round_id,)).fetchone()
            if head is None:
                raise NotFound(f"no round {round_id!r}")
            parts = _children(conn, "participants", round_id)
            cands = _children(conn, "candidates", round_id)
            groups = _children(conn, "vote_groups", round_id)
        return codec.from_rows(head, parts, cands, groups)

    def list(
        self,
        *,
        limit: int = 20,
        page_token: str | None = None,
        strategy: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tag: tuple[str, str] | None = None,
        status: str | None = None,
    ) -> tuple[list[RoundSummary], str | None]:
        """Newest first; `since` <= created_at < `until`. Returns the page and the token
        of the next one (None on the last page)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be in [1, {MAX_PAGE}], got {limit}", field="limit")
        where: list[str] = []
        args: list[Any] = []
        if page_token is not None:
            after_at, after_id = pagination.decode(page_token)
            where.append("(r.created_at < ? OR (r.created_at = ? AND r.id < ?))")
            args += [after_at, after_at, after_id]
        if strategy is not None:
            where.append("r.strategy = ?")
            args.append(strategy)
        if status is not None:
            where.append("r.status = ?")
            args.append(status)
        if since is not None:
            where.append("r.created_at >= ?")
            args.append(since)
        if until is not None:
            where.append("r.created_at < ?")
            args.append(until)
        if tag is not None:
            where.append(
                "EXISTS (SELECT 1 FROM round_tags t "
                "WHERE t.round_id = r.id AND t.key = ? AND t.value = ?)"
            )
            args += [tag[0], tag[1]]
        sql = _SUMMARY_SQL
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.created_at DESC, r.id DESC LIMIT ?"
        args.append(limit + 1)  # one extra row tells whether another page exists
        with self._locked() as conn:
            rows = conn.execute(sql, args).fetchall()
        page = [_summary(row) for row in rows[:limit]]
        token = None
        if len(rows) > limit:
            token = pagination.encode(page[-1].created_at, page[-1].id)
        return page, token

    def find_by_tags(self, tags: Mapping[str, str]) -> list[str]:
        """Ids of the rounds carrying every given tag, newest first (all rounds for {})."""
        if not tags:
            with self._locked() as conn:
                rows = conn.execute("SELECT id FROM rounds ORDER BY created_at DESC, id DESC")
                return [row[0] for row in rows]
        match = " OR ".join("(t.key = ? AND t.value = ?)" for _ in tags)
        args: list[Any] = [x for kv in tags.items() for x in kv]
        sql = (
            "SELECT r.id FROM rounds r JOIN round_tags t ON t.round_id = r.id "
            f"WHERE {match} GROUP BY r.id HAVING COUNT(*) = ? "
            "ORDER BY r.created_at DESC, r.id DESC"
        )
        with self._locked() as conn:
            return [row[0] for row in conn.execute(sql, [*args, len(tags)])]

    # -- asyncio ---------------------------------------------------------------------

    async def save_async(
        self,
        record: RoundRecord,
        *,
        answers: Sequence[str] | None = None,
        replace: bool = False,
    ) -> None:
        await asyncio.to_thread(self.save, record, answers=answers, replace=replace)

    async def begin_async(self, record: RoundRecord) -> None:
        await asyncio.to_thread(self.begin, record)

    async def add_candidate_async(
        self, round_id: str, position: int, candidate: Candidate, answer: str = ""
    ) -> None:
        await asyncio.to_thread(self.add_candidate, round_id, position, candidate, answer)

    async def discard_async(self, round_id: str) -> bool:
        return await asyncio.to_thread(self.discard, round_id)

    async def get_async(self, round_id: str) -> RoundRecord:
        return await asyncio.to_thread(self.get, round_id)

    async def list_async(self, **filters: Any) -> tuple[list[RoundSummary], str | None]:
        """`list` in a worker thread; the same keyword filters."""
        return await asyncio.to_thread(self.list, **filters)

    async def find_by_tags_async(self, tags: Mapping[str, str]) -> list[str]:
        return await asyncio.to_thread(self.find_by_tags, dict(tags))

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise Unavailable(f"round store {self.path} is closed")
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                # Locked past the busy timeout, disk full, read-only file: not the caller's
                # fault, and maybe over soon.
                raise Unavailable(f"round store {self.path}: {exc}") from exc

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception (all or nothing). Writers take
        the write lock up front (IMMEDIATE) so they never fail midway on a busy file."""
        with self._locked() as conn:
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # also when COMMIT itself failed
                    conn.execute("ROLLBACK")
                raise


def _insert(conn: sqlite3.Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    conn.executemany(sql, rows)


def _children(conn: sqlite3.Connection, table: str, round_id: str) -> list[sqlite3.Row]:
    return conn.execute(
        f"SELECT * FROM {table} WHERE round_id = ? ORDER BY position", (round_id,)
    ).fetchall()


def _summary(row: sqlite3.Row) -> RoundSummary:
    return RoundSummary(
        id=row["id"],
        created_at=row["created_at"],
        strategy=row["strategy"],
        method=row["method"],
        status=row["status"],
        answer=row["answer"],
        agreement=row["agreement"],
        n_candidates=row["n_candidates"],
        wall_ms=row["wall_ms"],
        tags=json.loads(row["tags_json"]),
    )
