"""The shipped example of named voices: experiments/leaders/council.yaml (a leader with
three personas of different weights and a judge) and experiments/council.yaml (majority,
weighted and judge over them), run as a user runs them: the leader from its config file,
the experiment with `conclave experiment run`. Only the agent's address (the session's
agent instead of `make run`'s :50051), the number of items and max_tokens are the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conclave.leader.client import LeaderClientSync
from tests.support.servers import RunningLeader, leader_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
LEADER_CONFIG = EXPERIMENTS / "leaders" / "council.yaml"
EXPERIMENT = EXPERIMENTS / "council.yaml"
ITEMS = 1  # per cell: three rounds and a judge's call, which is what is checked here
MAX_TOKENS = 24
RUN = (sys.executable, "-m", "conclave.cli.main", "experiment", "run")


def quiet(tmp_path: Path) -> tuple[str, ...]:
    return ("--out", str(tmp_path / "out"), "--no-progress")


@pytest.fixture(scope="module")
def council(agent, tmp_path_factory):
    work = tmp_path_factory.mktemp("council")
    config = yaml.safe_load(LEADER_CONFIG.read_text())
    for participant in config["participants"]:
        participant["address"] = agent.address
    (work / "leader.yaml").write_text(yaml.safe_dump(config))
    settings = leader_settings(work / "rounds.db", config_file=work / "leader.yaml")
    with RunningLeader(settings) as running:
        yield running


def test_the_leader_config_gives_named_voices_personas_and_weights(council):
    voices = {p.name: p for p in council.server.participants.all()}
    assert list(voices) == ["solver", "skeptic", "fact-checker", "judge"]
    assert [voices[n].weight for n in ("solver", "skeptic", "fact-checker")] == [2.0, 1.0, 1.5]
    # Each persona filled its voice's system prompt and temperature.
    assert all(voices[n].system_prompt for n in ("solver", "skeptic", "fact-checker"))
    assert voices["solver"].temperature == 0.3 and voices["judge"].temperature == 0.0


def test_the_experiment_runs_weighted_and_judged_votes_over_them(council, tmp_path):
    config = yaml.safe_load(EXPERIMENT.read_text())
    config["dataset"]["path"] = str(EXPERIMENTS / config["dataset"]["path"])
    config["dataset"]["limit"] = ITEMS
    config["max_tokens"] = MAX_TOKENS
    (tmp_path / "council.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ran = subprocess.run(
        [*RUN, str(tmp_path / "council.yaml"), "--leader", council.address, *quiet(tmp_path)],
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    items = json.loads((tmp_path / "out" / "items.json").read_text())
    by_cell: dict[str, list[dict]] = {}
    for item in items:
        by_cell.setdefault(item["cell"], []).append(item)
    assert {cell: len(rows) for cell, rows in by_cell.items()} == {
        "majority": ITEMS,
        "weighted": ITEMS,
        "judged": ITEMS,
    }
    leader = LeaderClientSync(council.address)
    try:
        weighted = leader.get_round(by_cell["weighted"][0]["round_id"])
        judged = leader.get_round(by_cell["judged"][0]["round_id"])
    finally:
        leader.close()
    assert weighted.decision.method == "weighted"
    weight_of = {p.name: p.weight for p in weighted.participants}
    assert weight_of == {"solver": 2.0, "skeptic": 1.0, "fact-checker": 1.5}
    # Each answer group weighs what its members' voices weigh.
    for group in weighted.decision.groups:
        members = [weighted.candidates[i].participant for i in group.members]
        assert group.weight == pytest.approx(sum(weight_of[m] for m in members))
    assert judged.request.method == "judge"
    assert judged.request.params["judge"] == "judge"
