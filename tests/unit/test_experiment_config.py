"""The experiment config: everything wrong is reported at its key path, before any round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conclave.experiments.config import load_experiment
from conclave.experiments.errors import ConfigError
from conclave.experiments.plan import units_of

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, config: dict, items: list[dict] | None = None) -> Path:
    data = tmp_path / "data.jsonl"
    rows = (
        items if items is not None else [{"prompt": f"{i} + 1?", "answer": i + 1} for i in range(3)]
    )
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def base(**overrides) -> dict:
    config = {
        "leader": "127.0.0.1:50050",
        "dataset": {"path": "data.jsonl", "scorer": "numeric"},
        "strategies": [{"strategy": "vote"}, {"strategy": "parallel"}],
    }
    config.update(overrides)
    return config


def problems(tmp_path: Path, config: dict, items: list[dict] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_experiment(write(tmp_path, config, items))
    return [str(issue) for issue in caught.value.issues]


def test_a_valid_config_plans_cells_and_units(tmp_path):
    exp = load_experiment(write(tmp_path, base(repeats=2, seed=5)))
    assert exp.config.name == "exp"  # the file's stem by default
    assert [c.id for c in exp.cells] == ["vote", "parallel"]
    assert exp.seeds == (5, 6)
    units = units_of(list(exp.cells), exp.dataset.items, list(exp.seeds))
    assert len(units) == 2 * 2 * 3
    assert units[0].key == ("vote", "0", 0) and units[3].key == ("vote", "0", 1)
    assert exp.dataset.items[0].messages == (("user", "0 + 1?"),)


def test_sweeps_and_agent_counts_multiply_cells(tmp_path):
    config = base(
        strategies=[
            {"strategy": "vote", "sweep": {"samples": [1, 3]}},
            {"id": "debate", "strategy": "parallel", "sweep": {"params.critique_rounds": [0, 2]}},
        ],
        agent_counts=[1, 3],
    )
    exp = load_experiment(write(tmp_path, config))
    ids = [c.id for c in exp.cells]
    assert ids == [
        "vote-s1-n1",
        "vote-s1-n3",
        "vote-s3-n1",
        "vote-s3-n3",
        "debate-critique_rounds=0-n1",
        "debate-critique_rounds=0-n3",
        "debate-critique_rounds=2-n1",
        "debate-critique_rounds=2-n3",
    ]
    cell = exp.cells[-1]
    assert cell.params == (("critique_rounds", "2"),) and cell.agent_count == 3
    assert exp.cells[2].samples == 3


def test_an_entrys_voices_pick_the_first_n_without_names(tmp_path):
    config = base(
        strategies=[{"id": "single", "strategy": "vote", "voices": 1}, {"strategy": "vote"}],
        agent_counts=[1, 3],
    )
    exp = load_experiment(write(tmp_path, config))
    # `voices` is the entry's one count: not repeated, not renamed, per agent_counts.
    assert [(c.id, c.agent_count) for c in exp.cells] == [
        ("single", 1),
        ("vote-n1", 1),
        ("vote-n3", 3),
    ]
    assert exp.cells[0].participants is None  # the leader's, whatever their names


def test_voices_beyond_the_named_participants_are_refused(tmp_path):
    config = base(strategies=[{"strategy": "vote", "participants": ["a", "b"], "voices": 3}])
    assert problems(tmp_path, config) == [
        "strategies[0].voices: asks for 3 of the 2 participants named"
    ]


def test_params_reach_the_leader_as_strings(tmp_path):
    config = base(
        strategies=[
            {"strategy": "parallel", "params": {"stop_on_agreement": False, "extract": "number"}}
        ]
    )
    (cell,) = load_experiment(write(tmp_path, config)).cells
    assert dict(cell.params) == {"stop_on_agreement": "false", "extract": "number"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"strategies": [{"strategy": "debate"}]},
            "strategies[0].strategy: unknown strategy 'debate'",
        ),
        ({"strategies": [{"strategy": "vote", "method": "best"}]}, "strategies[0].method: unknown"),
        (
            {"strategies": [{"strategy": "vote", "samples": "three"}]},
            "strategies[0].samples: Input should be",
        ),
        (
            {"strategies": [{"strategy": "vote", "samples": 99}]},
            "strategies[0].samples: Input should be",
        ),
        ({"repeats": "many"}, "repeats: Input should be a valid integer"),
        ({"concurrency": 0}, "concurrency: Input should be greater than or equal to 1"),
        ({"concurency": 2}, "concurency: unknown key (did you mean 'concurrency'?)"),
        ({"dataset": {"path": "none.jsonl"}}, "dataset.path: no such file"),
        (
            {"dataset": {"path": "data.jsonl", "scorer": "fuzzy"}},
            "dataset.scorer: Input tag 'fuzzy'",
        ),
        ({"dataset": {"path": "data.jsonl", "template": "Q"}}, "dataset.template: must contain"),
        ({"strategies": []}, "strategies: List should have at least 1 item"),
        ({"seeds": [1, 2], "repeats": 3}, "repeats: 3 repeats but 2 seeds"),
        ({"leader": None}, "participants: no `leader` address"),
        ({"name": "no spaces"}, "name: String should match pattern"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, change, expected):
    found = problems(tmp_path, base(**change))
    assert any(p.startswith(expected) for p in found), found


def test_strategy_params_are_checked_by_name_and_value(tmp_path):
    config = base(
        strategies=[
            {"strategy": "vote"},
            {"strategy": "parallel", "params": {"critique_rounds": 12, "critique_round": 1}},
            {"strategy": "moa", "params": {"layers": "2", "extract": "numbers"}},
        ]
    )
    found = problems(tmp_path, config)
    assert "strategies[1].params.critique_rounds: must be between 0 and 8, got 12" in found
    assert any(
        p.startswith(
            "strategies[1].params.critique_round: unknown parameter for parallel "
            "(did you mean 'critique_rounds'?)"
        )
        for p in found
    )
    assert "strategies[2].params.layers: must be an integer, got '2'" in found
    assert any(p.startswith("strategies[2].params.extract: must be one of") for p in found)


def test_every_problem_is_reported_at_once(tmp_path):
    config = base(
        strategies=[{"strategy": "paralel"}, {"strategy": "vote", "method": "majorty"}],
        dataset={"path": "missing.jsonl"},
    )
    found = problems(tmp_path, config)
    assert len(found) == 3
    assert "did you mean 'parallel'?" in found[0] and "did you mean 'majority'?" in found[1]


def test_a_sweep_point_is_checked_like_a_written_variant(tmp_path):
    config = base(
        strategies=[{"strategy": "parallel", "sweep": {"params.critique_rounds": [1, 9]}}]
    )
    found = problems(tmp_path, config)
    assert found == [
        "strategies[0].sweep(params.critique_rounds=9): params.critique_rounds: "
        "must be between 0 and 8, got 9"
    ]
    config = base(strategies=[{"strategy": "vote", "sweep": {"top_k": [1]}}])
    assert problems(tmp_path, config)[0].startswith("strategies[0].sweep.top_k: not sweepable")


def test_cells_with_one_name_clash(tmp_path):
    config = base(
        strategies=[{"strategy": "vote"}, {"strategy": "vote", "params": {"extract": "number"}}]
    )
    found = problems(tmp_path, config)
    assert found == [
        "strategies[0] and strategies[1]: 2 cells are named 'vote'; give the strategies "
        "distinct `id`s"
    ]


def test_moa_needs_a_quorum_of_one(tmp_path):
    found = problems(tmp_path, base(strategies=[{"strategy": "moa"}], quorum=2))
    assert found == ["strategies[0].strategy: moa decides by one aggregator: quorum must be 1"]


def test_dataset_lines_are_checked_with_file_and_line(tmp_path):
    items = [
        {"prompt": "1 + 1?", "answer": 2},
        {"prompt": "x", "answer": "two"},
        {"answer": 3},
        {"prompt": "y", "answer": 4, "anwser": 4},
        {"id": 0, "prompt": "z", "answer": 5},
    ]
    found = problems(tmp_path, base(), items)
    data = tmp_path / "data.jsonl"
    assert found == [
        f"{data}:2: answer: answer 'two' is not a number (scorer numeric)",
        f"{data}:3: give exactly one of `prompt` or `messages`",
        f"{data}:4: anwser: unknown key",
        f"{data}:5: id: '0' repeats line 1",
    ]


def test_every_shipped_config_loads():
    shipped = sorted((REPO / "experiments").glob("*.yaml"))
    assert len(shipped) >= 3
    for path in shipped:
        exp = load_experiment(path)
        assert exp.cells and exp.dataset.items, path
    demo = load_experiment(REPO / "experiments" / "demo.yaml")
    assert len(demo.dataset.items) == 6 and len(demo.cells) == 2
    assert all(c.max_tokens <= 24 for c in demo.cells)


def test_a_leader_flag_overrides_the_config(tmp_path):
    exp = load_experiment(write(tmp_path, base()), leader="10.0.0.1:50050")
    assert exp.leader == "10.0.0.1:50050"
