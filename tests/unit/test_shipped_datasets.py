"""The shipped datasets: big enough to measure, generated ones fresh, and none of them
holding a question the completion chat format shows as a demonstration."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conclave.experiments.datasets import DatasetSpec, load_dataset
from conclave.experiments.sums import sums_items
from conclave.services.engine.demonstrations import DEFAULT_DEMONSTRATIONS

DATASETS = Path(__file__).resolve().parents[2] / "experiments" / "datasets"
# (file, scorer, fewest items): the quality benchmark's sets.
SHIPPED = (
    ("capitals.jsonl", "contains", 60),
    ("facts.jsonl", "contains", 100),
    ("sums_products.jsonl", "numeric", 100),
    ("science_mc.jsonl", "choice", 50),
    ("yes_no.jsonl", {"kind": "choice", "choices": ["yes", "no"]}, 60),
)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


@pytest.mark.parametrize(("name", "scorer", "fewest"), SHIPPED)
def test_each_set_loads_with_its_scorer_and_is_big_enough(name, scorer, fewest) -> None:
    dataset = load_dataset(DatasetSpec(path=Path(name), scorer=scorer), DATASETS)
    assert len(dataset.items) >= fewest
    prompts = [_normal(item.messages[-1][1]) for item in dataset.items]
    assert len(set(prompts)) == len(prompts), "a question is asked twice"


def test_facts_are_of_more_than_one_kind() -> None:
    # Not only capitals: the mixed set must not be the capitals set again.
    lines = (DATASETS / "facts.jsonl").read_text().splitlines()
    capitals = [line for line in lines if "capital of" in line.lower()]
    assert len(capitals) == 0


def test_no_shipped_question_is_a_demonstration() -> None:
    demos = {_normal(d.user) for d in DEFAULT_DEMONSTRATIONS}
    for path in sorted(DATASETS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                prompt = _normal(json.loads(line).get("prompt", ""))
                assert prompt not in demos, f"{path.name}: {prompt!r} is a demonstration"


def test_the_shipped_sums_are_the_generators_output() -> None:
    shipped = (DATASETS / "sums_products.jsonl").read_text().splitlines()
    demos = [d.user for d in DEFAULT_DEMONSTRATIONS]
    assert [json.loads(line) for line in shipped] == list(sums_items(exclude=demos))


def test_the_sums_generator_skips_demonstrations_in_either_order() -> None:
    everything = [i["prompt"] for i in sums_items(per_kind=20, seed=1)]
    banned = everything[0]
    a, op, b = banned.removeprefix("What is ").removesuffix("?").split()
    swapped = f"What is {b} {op} {a}?"
    again = [i["prompt"] for i in sums_items(per_kind=20, seed=1, exclude=[swapped])]
    assert banned not in again and swapped not in again
    assert len(again) == len(everything)
