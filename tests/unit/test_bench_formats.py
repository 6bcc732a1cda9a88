"""The answer-format benchmark's pure parts: reading a structured answer for the scorer,
the schema each task gets, and the report's paired tables and targets."""

from __future__ import annotations

from bench.quality_formats import FORMATS, PLAYS, schema_for, structured_answer
from bench.quality_formats_report import FormatAnswer, summarize
from conclave.experiments.datasets import Item


def _item(item_id: str, choices: tuple[str, ...] | None = None) -> Item:
    return Item(item_id, (("user", "q"),), "x", "contains", choices)  # type: ignore[arg-type]


def test_structured_answers_read_their_answer_field_as_text():
    assert structured_answer('{"answer":"Paris"}') == "Paris"
    assert structured_answer('{"answer":8.0}') == "8"  # canonical numbers read as integers
    assert structured_answer('{"answer":2.5}') == "2.5"
    assert structured_answer('{"city":"Paris"}') is None
    assert structured_answer("Paris") is None


def test_each_task_gets_the_schema_a_client_would_give():
    assert schema_for("sums and products", _item("s"))["properties"] == {
        "answer": {"type": "number"}
    }
    mc = schema_for("multiple choice", _item("m", ("A", "B", "C")))
    assert mc["properties"] == {"answer": {"type": "string", "enum": ["A", "B", "C"]}}
    assert schema_for("yes/no", _item("y"))["properties"]["answer"]["enum"] == ["yes", "no"]
    assert schema_for("capitals", _item("c"))["required"] == ["answer"]


def _answer(task: str, form: str, play: str, item: str, correct: bool) -> FormatAnswer:
    return FormatAnswer(task, form, play, item, "decided", correct, 10, 1.0, "", 0)


def test_the_report_pairs_forms_on_items_and_targets_reason_first_against_constrained():
    tasks = {"t1": [_item("a"), _item("b")], "t2": [_item("a")]}
    right = {  # (form, task/item) answered correctly, for both plays
        ("free", "t1/a"),
        ("constrained", "t1/a"),
        ("constrained", "t2/a"),
        ("reason first", "t1/a"),
        ("reason first", "t1/b"),
        ("reason first", "t2/a"),
    }
    answers = [
        _answer(task, form, play, item.id, (form, f"{task}/{item.id}") in right)
        for task, items in tasks.items()
        for item in items
        for form in FORMATS
        for play in PLAYS
    ]
    tables, targets = summarize(answers, tasks=tasks, forms=FORMATS, plays=PLAYS)
    assert [t.title for t in tables] == ["t1: 2 items", "t2: 1 item", "all tasks: 3 items"]
    overall = {(row[0], row[1]): row for row in tables[-1].rows}
    assert overall[(PLAYS[0], "free")][2].startswith("33%")  # t1/a of three items
    assert overall[(PLAYS[0], "reason first")][2].startswith("100%")
    assert [round(t.value or 0, 3) for t in targets] == [0.333]
    assert all(t.passed for t in targets)


def test_a_missing_answer_scores_zero_rather_than_vanishing():
    tasks = {"t": [_item("a"), _item("b")]}
    answers = [_answer("t", form, play, "a", True) for form in FORMATS for play in PLAYS]
    tables, _ = summarize(answers, tasks=tasks, forms=FORMATS, plays=PLAYS)
    assert all(row[2].startswith("50%") for row in tables[-1].rows)
