"""The SQLite round store: exact round trips, WAL, pagination, filters, tags, atomicity,
migrations and concurrent writers."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from conclave.errors import InvalidRequest, NotFound, Unavailable
from conclave.leader.store import (
    INTERRUPTED,
    RUNNING,
    SCHEMA_VERSION,
    RoundStore,
    default_db_path,
)
from conclave.leader.store.migrations import migrate, schema_version
from conclave.leader.types import (
    Candidate,
    Decision,
    Participant,
    ResponseFormat,
    RoundRecord,
    RoundRequest,
    ToolDefinition,
    VoteGroup,
)


def full_record(round_id: str = "r1", created_at: float = 1_700_000_000.123456) -> RoundRecord:
    """A round with every field set to something other than its default."""
    return RoundRecord(
        id=round_id,
        created_at=created_at,
        request=RoundRequest(
            messages=(("system", "Be brief."), ("user", "Wie viel ist 6×7? 🤔")),
            strategy="parallel",
            method="two_phase",
            participants=("ada", "bob"),
            samples_per_participant=2,
            max_tokens=64,
            temperature=0.1 + 0.2,  # 0.30000000000000004 must survive
            top_p=0.9,
            seed=-(2**40),
            quorum=2,
            participant_timeout_s=12.5,
            params={"extract": "number", "": ""},
            tags={"experiment": "e1", "cell": "3", "ünï": "cödé"},
            response_format=ResponseFormat(
                type="json_schema", schema='{"enum": ["A", "B"]}', name="choice", strict=True
            ),
            tools=(ToolDefinition("get_weather", "Weather now.", '{"type": "object"}', True),),
            tool_choice="function:get_weather",
        ),
        participants=(
            Participant(
                name="ada",
                address="10.0.0.2:50051",
                agent="blade-1",
                system_prompt="You are careful.\n",
                weight=2.5,
                temperature=0.0,
                top_p=1.0,
                max_tokens=32,
                seed_offset=7,
            ),
            Participant(name="bob", address="[::1]:50051"),
        ),
        candidates=(
            Candidate(
                participant="ada",
                service="blade-1",
                sample_index=1,
                text="The answer is 42.\n```python\nprint(42)\n```",
                finish_reason="stop",
                error="",
                prompt_tokens=31,
                completion_tokens=12,
                latency_ms=812.25,
                first_token_ms=95.5,
                generation_ms=700.125,
                turn=2,
                cached_prompt_tokens=24,
            ),
            Candidate(
                participant="bob",
                service="[::1]:50051",
                sample_index=0,
                text="",
                finish_reason="error",
                error="UNAVAILABLE: connection refused",
            ),
        ),
        decision=Decision(
            method="two_phase",
            winner=0,
            answer="42",
            groups=(VoteGroup(answer="42", members=(0,), weight=1.0 / 3.0),),
            agreement=1.0,
            dissent=("41", ""),
            detail="1 of 1 agent service(s) chose '42'.",
        ),
        status="decided",
        error="",
        wall_ms=1234.5678,
        timings={"turn0": 100.25, "turn1": 1e-9},
    )


def bare_record(round_id: str, created_at: float, **request: object) -> RoundRecord:
    return RoundRecord(
        id=round_id,
        created_at=created_at,
        request=RoundRequest(messages=(("user", "q"),), **request),  # type: ignore[arg-type]
        participants=(),
        candidates=(),
        decision=Decision(method="majority", winner=None, answer=""),
        status="no_quorum",
    )


@pytest.fixture
def store(tmp_path: Path) -> RoundStore:
    with RoundStore.open(tmp_path / "deep" / "dir" / "rounds.db") as s:
        yield s


# -- basics ------------------------------------------------------------------------------


def test_round_trip_is_exact(store: RoundStore) -> None:
    record = full_record()
    store.save(record, answers=["42", ""])
    assert store.get(record.id) == record


def test_round_trip_of_an_undecided_round(store: RoundStore) -> None:
    record = bare_record("empty", 1.0)
    store.save(record)
    assert store.get("empty") == record


def test_answers_fill_the_candidate_column(store: RoundStore) -> None:
    store.save(full_record(), answers=["42", ""])
    conn = sqlite3.connect(store.path)
    rows = conn.execute("SELECT answer FROM candidates ORDER BY position").fetchall()
    conn.close()
    assert rows == [("42",), ("",)]
    with pytest.raises(InvalidRequest, match="answers"):
        store.save(full_record("r2"), answers=["only one"])


def test_open_sets_wal_and_pragmas(store: RoundStore, tmp_path: Path) -> None:
    assert store.path.parent.is_dir()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()
    with store._locked() as own:  # per-connection pragmas live on the store's connection
        assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert own.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_missing_round_is_not_found(store: RoundStore) -> None:
    with pytest.raises(NotFound, match="nope"):
        store.get("nope")


def test_duplicate_id_is_refused_unless_replace(store: RoundStore) -> None:
    first = full_record()
    store.save(first)
    with pytest.raises(InvalidRequest, match="already stored"):
        store.save(replace(first, status="failed"))
    assert store.get(first.id) == first
    second = replace(first, status="failed", candidates=first.candidates[:1])
    store.save(second, replace=True)
    assert store.get(first.id) == second
    assert store.list()[0][0].n_candidates == 1  # old children are gone, not merged


@pytest.mark.parametrize(
    "bad",
    [
        {"wall_ms": float("nan")},  # NaN becomes NULL in SQLite
        {"timings": {"t": float("nan")}},  # not JSON
        {"created_at": 2**70},  # past SQLite's 64-bit integers
    ],
)
def test_unstorable_values_are_invalid_request(store: RoundStore, bad: dict) -> None:
    with pytest.raises(InvalidRequest, match="cannot be stored"):
        store.save(replace(full_record(), **bad))
    assert set(_counts(store.path).values()) == {0}


def test_closed_store_is_unavailable(tmp_path: Path) -> None:
    s = RoundStore.open(tmp_path / "x.db")
    s.close()
    s.close()  # idempotent
    with pytest.raises(Unavailable):
        s.get("r1")


# -- atomicity ---------------------------------------------------------------------------


def _counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    tables = ["rounds", "participants", "candidates", "vote_groups", "round_tags"]
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    conn.close()
    return counts


def test_failure_mid_write_leaves_nothing(store: RoundStore) -> None:
    record = full_record()
    # The second candidate cannot be bound: rounds, participants and the first candidate
    # are already written inside the transaction when this fails.
    bad = replace(record, candidates=(record.candidates[0], replace(record.candidates[1])))
    object.__setattr__(bad.candidates[1], "text", object())
    with pytest.raises(InvalidRequest, match="cannot be stored"):
        store.save(bad)
    assert set(_counts(store.path).values()) == {0}
    with pytest.raises(NotFound):
        store.get(record.id)
    store.save(record)  # the connection is usable and the id free
    assert store.get(record.id) == record


def test_failure_in_the_last_table_rolls_back_earlier_ones(
    store: RoundStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conclave.leader.store import round_store

    real_insert = round_store._insert

    def failing_insert(conn: sqlite3.Connection, table: str, rows: list) -> None:
        if table == "round_tags":
            raise RuntimeError("disk on fire")
        real_insert(conn, table, rows)

    monkeypatch.setattr(round_store, "_insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save(full_record())
    assert set(_counts(store.path).values()) == {0}


def test_failed_replace_keeps_the_old_round(
    store: RoundStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conclave.leader.store import round_store

    old = full_record()
    store.save(old)

    def failing_insert(conn: sqlite3.Connection, table: str, rows: list) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(round_store, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        store.save(replace(old, status="failed"), replace=True)
    monkeypatch.undo()
    assert store.get(old.id) == old


# -- listing -----------------------------------------------------------------------------


def test_pagination_covers_every_round_exactly_once(store: RoundStore) -> None:
    # Equal timestamps on purpose: the page token must order by (created_at, id).
    for k in range(23):
        store.save(bare_record(f"r{k:02d}", float(k // 3)))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page, token = store.list(limit=5, page_token=token)
        pages += 1
        seen += [s.id for s in page]
        if token is None:
            break
    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    expected = sorted((f"r{k:02d}" for k in range(23)), key=lambda i: (int(i[1:]) // 3, i))
    assert seen == expected[::-1]  # newest first, then id descending


def test_exact_page_size_has_no_dangling_token(store: RoundStore) -> None:
    for k in range(4):
        store.save(bare_record(f"r{k}", float(k)))
    page, token = store.list(limit=4)
    assert len(page) == 4 and token is None


def test_summary_fields(store: RoundStore) -> None:
    record = full_record()
    store.save(record)
    [summary], token = store.list()
    assert token is None
    assert summary.id == record.id
    assert summary.created_at == record.created_at
    assert (summary.strategy, summary.method) == ("parallel", "two_phase")
    assert summary.status == "decided"
    assert (summary.answer, summary.agreement, summary.n_candidates) == ("42", 1.0, 2)
    assert summary.wall_ms == record.wall_ms
    assert summary.tags == record.request.tags


def test_filters(store: RoundStore) -> None:
    store.save(bare_record("a", 10.0, strategy="vote", tags={"exp": "1"}))
    store.save(bare_record("b", 20.0, strategy="parallel", tags={"exp": "1", "cell": "x"}))
    store.save(bare_record("c", 30.0, strategy="vote", tags={"exp": "2"}))
    store.save(bare_record("d", 40.0, strategy="vote"))

    def ids(**kwargs: object) -> list[str]:
        return [s.id for s in store.list(**kwargs)[0]]  # type: ignore[arg-type]

    assert ids() == ["d", "c", "b", "a"]
    assert ids(strategy="vote") == ["d", "c", "a"]
    assert ids(since=20.0) == ["d", "c", "b"]
    assert ids(until=30.0) == ["b", "a"]  # half-open: until excluded
    assert ids(since=20.0, until=40.0, strategy="vote") == ["c"]
    assert ids(tag=("exp", "1")) == ["b", "a"]
    assert ids(tag=("exp", "3")) == []
    page, token = store.list(limit=1, strategy="vote")
    assert [s.id for s in page] == ["d"]
    assert [s.id for s in store.list(limit=5, strategy="vote", page_token=token)[0]] == ["c", "a"]

    assert store.find_by_tags({"exp": "1"}) == ["b", "a"]
    assert store.find_by_tags({"exp": "1", "cell": "x"}) == ["b"]
    assert store.find_by_tags({"exp": "1", "cell": "y"}) == []
    assert store.find_by_tags({}) == ["d", "c", "b", "a"]


@pytest.mark.parametrize("token", ["garbage!", "bm90IGpzb24", "WyJ4IiwgMV0"])
def test_bad_page_token_is_invalid_request(store: RoundStore, token: str) -> None:
    with pytest.raises(InvalidRequest, match="page_token"):
        store.list(page_token=token)


@pytest.mark.parametrize("limit", [0, -1, 10_000])
def test_bad_limit_is_invalid_request(store: RoundStore, limit: int) -> None:
    with pytest.raises(InvalidRequest, match="limit"):
        store.list(limit=limit)


# -- migrations --------------------------------------------------------------------------


def test_v1_database_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    # A round as v1 code wrote it: tags only inside tags_json.
    conn.execute(
        "INSERT INTO rounds VALUES ('old', 5.0, 'vote', 'majority', 'decided', '', 12.0, "
        """'{"messages": [["user", "2+2?"]], "participants": [], """
        """"samples_per_participant": 1, "max_tokens": 256, "temperature": 0.7, """
        """"top_p": 0.95, "seed": null, "quorum": 1, "participant_timeout_s": 120.0}', """
        """'{}', '{"exp": "legacy"}', 'majority', 0, '4', 1.0, '[]', 'all agreed', '{}')"""
    )
    conn.execute(
        "INSERT INTO candidates VALUES ('old', 0, 'ada', 'blade', 0, 0, 'It is 4.', '4', "
        "'stop', '', 3, 4, 10.0, 2.0, 8.0)"
    )
    conn.execute("INSERT INTO vote_groups VALUES ('old', 0, '4', 1.0, '[0]')")
    conn.close()

    with RoundStore.open(path) as store:
        record = store.get("old")
        assert record.request.messages == (("user", "2+2?"),)
        assert record.request.tags == {"exp": "legacy"}
        assert record.candidates[0].text == "It is 4."
        assert record.candidates[0].cached_prompt_tokens == 0  # v6: not measured then
        # v4: a round from before structured answers answered in plain text, with no tools
        assert record.request.response_format == ResponseFormat()
        assert record.request.tools == () and record.request.tool_choice == ""
        assert record.decision.groups == (VoteGroup(answer="4", members=(0,), weight=1.0),)
        assert store.find_by_tags({"exp": "legacy"}) == ["old"]  # backfilled by v2
        assert [s.id for s in store.list(tag=("exp", "legacy"))[0]] == ["old"]
        store.save(full_record())  # and the upgraded file takes new rounds
    conn = sqlite3.connect(path)
    assert schema_version(conn) == SCHEMA_VERSION
    conn.close()


def test_reopening_a_current_database_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with RoundStore.open(path) as store:
        store.save(full_record())
    with RoundStore.open(path) as store:
        assert store.get("r1") == full_record()


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(Unavailable, match="cannot open"):
        RoundStore.open(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(Unavailable, match="newer"):
        RoundStore.open(path)


# -- concurrency and asyncio ---------------------------------------------------------------


def test_concurrent_saves_from_threads(store: RoundStore) -> None:
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for k in range(10):
                store.save(full_record(f"t{t}-{k}", created_at=float(t * 100 + k)))
        except BaseException as exc:  # collected: pytest cannot see thread failures
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    ids = store.find_by_tags({"experiment": "e1"})
    assert len(ids) == 40
    assert store.get("t3-9") == full_record("t3-9", created_at=309.0)


def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with RoundStore.open(path) as writer, RoundStore.open(path) as reader:
        writer.save(full_record())
        assert reader.get("r1") == full_record()


async def test_async_wrappers(store: RoundStore) -> None:
    async with asyncio.timeout(30):
        await asyncio.gather(*(store.save_async(full_record(f"a{k}", float(k))) for k in range(5)))
        assert await store.get_async("a3") == full_record("a3", 3.0)
        page, token = await store.list_async(limit=3)
        assert [s.id for s in page] == ["a4", "a3", "a2"]
        assert token is not None
        assert len(await store.find_by_tags_async({"cell": "3"})) == 5


# -- default path ------------------------------------------------------------------------


def test_default_db_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_db_path({"XDG_STATE_HOME": "/var/state"}, home) == Path(
        "/var/state/conclave/rounds.db"
    )
    expected = home / ".local/state/conclave/rounds.db"
    assert default_db_path({}, home) == expected
    assert default_db_path({"XDG_STATE_HOME": "relative/dir"}, home) == expected
    assert default_db_path({"XDG_STATE_HOME": ""}, home) == expected


def test_filter_by_status(store: RoundStore) -> None:
    from dataclasses import replace

    store.save(bare_record("a", 10.0, strategy="vote"))
    store.save(replace(bare_record("b", 20.0, strategy="vote"), status="decided"))
    store.save(replace(bare_record("c", 30.0, strategy="parallel"), status="failed"))

    def ids(**kwargs: object) -> list[str]:
        return [s.id for s in store.list(**kwargs)[0]]  # type: ignore[arg-type]

    assert ids(status="decided") == ["b"]
    assert ids(status="no_quorum") == ["a"]
    assert ids(status="failed", strategy="vote") == []
    assert ids(status="running") == []


# -- rounds in flight ------------------------------------------------------------------------


def running_head(record: RoundRecord) -> RoundRecord:
    """The record a round has while it runs: its request and voices, nobody heard yet."""
    return replace(
        record,
        candidates=(),
        status=RUNNING,
        decision=Decision(method=record.request.method, winner=None, answer=""),
        wall_ms=0.0,
        timings={},
    )


def test_a_running_round_is_stored_with_each_candidate_as_it_arrives(store: RoundStore) -> None:
    whole = full_record()
    store.begin(running_head(whole))
    assert store.get("r1").status == RUNNING and store.get("r1").candidates == ()
    # They arrive in any order; each is readable at once.
    store.add_candidate("r1", 0, whole.candidates[1])
    store.add_candidate("r1", 1, whole.candidates[0], answer="42")
    seen = store.get("r1")
    assert seen.candidates == (whole.candidates[1], whole.candidates[0])
    assert seen.participants == whole.participants and seen.request == whole.request
    assert [s.status for s in store.list()[0]] == [RUNNING]
    # The decision replaces the running record whole.
    store.save(whole, replace=True)
    assert store.get("r1") == whole
    with pytest.raises(InvalidRequest, match="decided, not running"):
        store.add_candidate("r1", 2, whole.candidates[0])


def test_a_candidate_of_an_unknown_round_is_not_found(store: RoundStore) -> None:
    with pytest.raises(NotFound):
        store.add_candidate("nope", 0, full_record().candidates[0])


def test_a_round_begins_without_candidates(store: RoundStore) -> None:
    with pytest.raises(InvalidRequest, match="without candidates"):
        store.begin(replace(full_record(), status=RUNNING))
    with pytest.raises(NotFound):
        store.get("r1")


def test_a_new_leader_marks_what_its_predecessor_left_running_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    whole = full_record()
    with RoundStore.open(path) as store:
        store.begin(running_head(whole))
        store.add_candidate("r1", 0, whole.candidates[0], answer="42")
        store.begin(running_head(full_record("r2", created_at=whole.created_at + 1)))
        store.save(full_record("done", created_at=5.0))
    # The process died here; the next leader opens the same file.
    with RoundStore.open(path) as store:
        assert store.interrupt_running() == ["r1", "r2"]
        left = store.get("r1")
        assert left.status == INTERRUPTED and "leader stopped" in left.error
        assert left.candidates == (whole.candidates[0],)  # what was heard is kept
        assert store.get("done") == full_record("done", created_at=5.0)  # untouched
        assert store.interrupt_running() == []  # once


def test_a_refused_round_is_discarded(store: RoundStore) -> None:
    store.begin(running_head(full_record()))
    assert store.discard("r1") is True
    with pytest.raises(NotFound):
        store.get("r1")
    assert store.discard("r1") is False


def test_v4_files_gain_the_in_flight_index(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=4)
    conn.close()
    with RoundStore.open(path):
        pass
    conn = sqlite3.connect(path)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "rounds_running" in indexes and schema_version(conn) == SCHEMA_VERSION
    conn.close()
