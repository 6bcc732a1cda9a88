"""The runner against a scripted leader: resuming, adopting stored rounds, errors, and the
checks that run before the first round."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml

from conclave.errors import (
    ConclaveError,
    DeadlineExceeded,
    InvalidRequest,
    Overloaded,
    Unavailable,
)
from conclave.experiments import runner as runner_module
from conclave.experiments.config import load_experiment
from conclave.experiments.errors import ConfigError, ExperimentAborted
from conclave.experiments.journal import JOURNAL, read_state
from conclave.experiments.report import REPORT_FILES
from conclave.experiments.runner import ExperimentRunner
from conclave.leader.store import RoundSummary
from conclave.leader.types import (
    AgentListing,
    Candidate,
    Decision,
    Participant,
    RoundRecord,
    RoundRequest,
    RoundSpec,
)


def failure(error: ConclaveError, round_id: str | None = None) -> ConclaveError:
    """An error as the leader client raises it: naming the round it had started."""
    error.round_id = round_id
    return error


class ScriptedLeader:
    """Answers every round right (the expected number) unless told otherwise, and keeps
    every round it "stored", like a leader's round store."""

    def __init__(self, names=("ann", "bob", "cy")) -> None:
        self.address = "scripted:1"
        self.names = list(names)
        self.stored: dict[str, RoundRecord] = {}
        self.asked: list[RoundSpec] = []
        self.failures: dict[tuple[str, str], list[ConclaveError]] = {}
        self.undecided: set[tuple[str, str]] = set()
        self.broken: set[tuple[str, str]] = set()  # undecided because the agents failed
        self._ids = itertools.count()

    def __call__(self, address: str) -> ScriptedLeader:
        return self

    def wait_ready(self, timeout: float) -> None:
        pass

    def list_agents(self) -> list[AgentListing]:
        return [AgentListing("a", "a:1", "static", tuple(self.names), "m", "")]

    def decide(self, spec: RoundSpec, *, timeout: float) -> RoundRecord:
        self.asked.append(spec)
        key = (spec.tags["cell"], spec.tags["item"])
        pending = self.failures.get(key)
        if pending:
            raise pending.pop(0)
        round_id = f"r{next(self._ids):04d}"
        expected = spec.messages[-1][1].split("=")[-1]
        status = "no_quorum" if key in self.undecided | self.broken else "decided"
        decided = status == "decided"
        reason = "error" if key in self.broken else "stop"
        # Three candidates, 12 completion and 40 prompt tokens in all.
        candidates = tuple(
            Candidate(
                participant="ann",
                service="s",
                sample_index=i,
                text=f"Answer: {expected}" if decided else "",
                finish_reason=reason,
                prompt_tokens=(13, 13, 14)[i],
                completion_tokens=4,
            )
            for i in range(3)
        )
        voices = spec.participants or tuple(self.names)
        record = RoundRecord(
            id=round_id,
            created_at=float(next(self._ids)),
            request=RoundRequest(messages=spec.messages, tags=dict(spec.tags)),
            participants=tuple(Participant(name=n, address="a:1") for n in voices),
            candidates=candidates,
            decision=Decision(
                method="majority", winner=0 if decided else None, answer="", agreement=1.0
            ),
            status=status,
            error="" if decided else "only 0 usable answer(s)",
            wall_ms=250.0,
        )
        self.stored[round_id] = record
        if not decided:
            raise failure(Unavailable(record.error), round_id)
        return record

    def get_round(self, round_id: str) -> RoundRecord:
        return self.stored[round_id]

    def tagged(self, key: str, value: str):
        for round_id, record in reversed(self.stored.items()):
            if record.request.tags.get(key) == value:
                yield RoundSummary(
                    round_id, 0.0, "vote", "majority", record.status, "", 1.0, 3, 0.0,
                    dict(record.request.tags),
                )  # fmt: skip

    def cancel_all(self) -> None:
        pass

    def close(self) -> None:
        pass


def experiment(tmp_path: Path, **overrides):
    items = [{"id": f"q{i}", "prompt": f"{i}+1={i + 1}", "answer": i + 1} for i in range(4)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    config = {
        "name": "t",
        "leader": "scripted:1",
        "dataset": {"path": "d.jsonl", "scorer": "numeric"},
        "strategies": [{"strategy": "vote"}, {"id": "debate", "strategy": "parallel"}],
        "concurrency": 2,
        "seed": 3,
        "participants": {"wait_s": 0},  # the scripted leader's participants are all there
    }
    config.update(overrides)
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config))
    return load_experiment(tmp_path / "t.yaml")


def run(tmp_path: Path, leader: ScriptedLeader, **kwargs):
    exp = experiment(tmp_path, **kwargs.pop("config", {}))
    return ExperimentRunner(exp, tmp_path / "out", connect=leader, **kwargs).run()


def test_a_run_asks_every_unit_once_with_its_tags(tmp_path):
    leader = ScriptedLeader()
    report = run(tmp_path, leader)
    assert report.complete and report.ran == 8 and report.left == 0
    keys = sorted((s.tags["cell"], s.tags["item"]) for s in leader.asked)
    assert keys == sorted((c, f"q{i}") for c in ("vote", "debate") for i in range(4))
    state = read_state(tmp_path / "out")
    assert state.status == "complete" and state.done == 8
    tags = leader.asked[0].tags
    assert tags["experiment"] == state.run_id and tags["experiment_name"] == "t"
    assert tags["repeat"] == "0" and tags["seed"] == "3" and leader.asked[0].seed == 3
    assert [s.accuracy for s in report.summaries] == [1.0, 1.0]
    for name in REPORT_FILES:
        assert (tmp_path / "out" / name).exists()


def test_agent_counts_pick_the_first_participants(tmp_path):
    leader = ScriptedLeader()
    run(tmp_path, leader, config={"agent_counts": [1, 3], "strategies": [{"strategy": "vote"}]})
    chosen = {s.tags["cell"]: s.participants for s in leader.asked}
    assert chosen == {"vote-n1": ("ann",), "vote-n3": ("ann", "bob", "cy")}


def test_a_rerun_resumes_and_adopts_rounds_the_journal_missed(tmp_path):
    leader = ScriptedLeader()
    run(tmp_path, leader)
    journal = tmp_path / "out" / JOURNAL
    lines = journal.read_text().splitlines()
    # As if killed: three rounds journaled; the leader stored two more; three never ran.
    journal.write_text("\n".join(lines[:3]) + "\n")
    unjournaled = [json.loads(line)["round_id"] for line in lines[3:]]
    for round_id in unjournaled[2:]:
        del leader.stored[round_id]
    leader.asked.clear()
    report = run(tmp_path, leader)
    assert (report.resumed, report.adopted, report.ran) == (3, 2, 3)
    assert len(leader.asked) == 3
    final = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len({(r["cell"], r["item"]) for r in final}) == 8
    assert {r["round_id"] for r in final} >= set(unjournaled[:2])
    leader.asked.clear()
    again = run(tmp_path, leader)
    assert again.ran == 0 and again.resumed == 8 and leader.asked == []


def test_an_undecided_round_is_a_wrong_answer_until_retried(tmp_path):
    leader = ScriptedLeader()
    leader.undecided.add(("vote", "q1"))
    report = run(tmp_path, leader)
    vote = report.summaries[0]
    assert vote.failed == 1 and vote.accuracy == 0.75 and report.complete
    leader.undecided.clear()
    leader.asked.clear()
    retried = run(tmp_path, leader, retry_failed=True)
    assert [s.tags["item"] for s in leader.asked] == ["q1"]
    assert retried.summaries[0].accuracy == 1.0 and retried.summaries[0].failed == 0


def test_a_round_lost_to_broken_agents_is_asked_again_next_run(tmp_path):
    leader = ScriptedLeader()
    leader.broken.add(("vote", "q2"))
    report = run(tmp_path, leader)
    assert not report.complete and report.left == 1 and "vote/q2" in report.errors[0]
    leader.broken.clear()
    leader.asked.clear()
    again = run(tmp_path, leader)
    assert again.complete and [s.tags["item"] for s in leader.asked] == ["q2"]
    assert again.summaries[0].failed == 0


def test_busy_agents_are_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "BACKOFF_S", 0.01)
    leader = ScriptedLeader()
    leader.failures[("vote", "q0")] = [Overloaded("busy", retry_after_s=0.0)] * 2
    report = run(tmp_path, leader)
    assert report.complete and report.ran == 8 and len(leader.asked) == 10


def test_a_refused_cell_stops_the_run_naming_its_config_entry(tmp_path):
    leader = ScriptedLeader()
    refusal = InvalidRequest("unknown strategy 'parallel'; known: vote")
    leader.failures[("debate", "q0")] = [refusal]
    with pytest.raises(
        ExperimentAborted, match=r"strategies\[1\]: the leader refused cell 'debate'"
    ):
        run(tmp_path, leader, config={"concurrency": 1})
    state = read_state(tmp_path / "out")
    assert state.status == "incomplete" and state.done == 4  # the vote cell finished
    assert (tmp_path / "out" / "report.md").exists()


def test_errors_in_a_row_stop_the_run_and_leave_the_units(tmp_path):
    leader = ScriptedLeader()
    for i in range(4):
        leader.failures[("vote", f"q{i}")] = [DeadlineExceeded("slow")]
    leader.failures[("debate", "q0")] = [DeadlineExceeded("slow")]
    with pytest.raises(ExperimentAborted, match="5 rounds in a row failed"):
        run(tmp_path, leader, config={"concurrency": 1})
    assert read_state(tmp_path / "out").done == 0
    report = run(tmp_path, leader)
    assert report.complete and report.ran == 8


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"agent_counts": [2, 5]},
            "agent_counts: cell 'vote-n5' asks for 5 participants; there are 3",
        ),
        (
            {"strategies": [{"strategy": "vote", "participants": ["ann", "dan"]}]},
            "strategies[0].participants: unknown to the leader: dan",
        ),
        (
            {
                "strategies": [{"strategy": "moa", "params": {"aggregator": "cy"}}],
                "agent_counts": [2],
            },
            "strategies[0].params.aggregator: 'cy' is not among cell 'moa-aggregator=cy-n2'",
        ),
    ],
)
def test_the_leader_check_fails_before_any_round(tmp_path, config, expected):
    leader = ScriptedLeader()
    with pytest.raises(ConfigError) as caught:
        run(tmp_path, leader, config=config)
    assert any(str(i).startswith(expected) for i in caught.value.issues), caught.value.issues
    assert leader.asked == []


def test_a_changed_cell_cannot_resume_in_the_same_folder(tmp_path):
    leader = ScriptedLeader()
    run(tmp_path, leader)
    with pytest.raises(ConfigError) as caught:
        run(tmp_path, leader, config={"max_tokens": 99})
    assert [str(i) for i in caught.value.issues][:2] == [
        "strategies[0]: cell 'vote' changed",
        "strategies[1]: cell 'debate' changed",
    ]
    # Adding a cell is fine: only it runs.
    leader.asked.clear()
    strategies = [
        {"strategy": "vote"},
        {"id": "debate", "strategy": "parallel"},
        {"strategy": "moa"},
    ]
    report = run(tmp_path, leader, config={"strategies": strategies})
    assert {s.tags["cell"] for s in leader.asked} == {"moa"} and report.ran == 4
