"""The journal and the state file: what a resumed run trusts."""

from __future__ import annotations

import json
from dataclasses import replace

from conclave.experiments.journal import Journal, RunState, read_state, write_state
from tests.unit.test_experiment_reports import result, state


def test_the_journal_appends_and_the_last_line_of_a_key_wins(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    assert journal.read() == []
    journal.append(result(item="a", status="no_quorum", correct=False))
    journal.append(result(item="b"))
    journal.append(result(item="a"))  # --retry-failed asked it again
    read = {r.key: r for r in journal.read()}
    assert set(read) == {("vote", "a", 0), ("vote", "b", 0)}
    assert read[("vote", "a", 0)].status == "decided"


def test_a_half_written_line_is_skipped(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.append(result(item="a"))
    with path.open("a") as f:
        f.write(json.dumps(result(item="b").to_json())[:40])
    assert [r.item for r in journal.read()] == ["a"]


def test_state_round_trips_and_is_replaced_whole(tmp_path):
    write_state(tmp_path, state())
    first = read_state(tmp_path)
    assert isinstance(first, RunState) and first.run_id == "t-1"
    write_state(tmp_path, replace(first, status="incomplete"))
    assert read_state(tmp_path).status == "incomplete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert read_state(tmp_path / "nowhere") is None


def test_run_ids_are_unique_per_run():
    assert RunState.new_run_id("demo") != RunState.new_run_id("demo")
    assert RunState.new_run_id("demo").startswith("demo-")
