"""bench/kv_cache.py's arithmetic on made-up answers: right answers per cache type, answers
that differ, and the paired wall ratio; an item one engine did not answer is left out."""

from __future__ import annotations

from bench.kv_cache import Answer, summarize, task_row


def answer(cache: str, item: str, text: str, correct: bool, wall_ms: float, task: str = "t"):
    return Answer(cache, task, item, text, correct, wall_ms, completion_tokens=3)


def test_a_task_row_counts_right_answers_differences_and_the_paired_wall_ratio():
    answers = [
        answer("bf16", "a", "Paris.", True, 110.0),
        answer("f16", "a", "Paris.", True, 100.0),
        answer("bf16", "b", "Lyon.", False, 300.0),
        answer("f16", "b", "Paris.", True, 200.0),
        answer("bf16", "c", "7", True, 90.0),
        answer("f16", "c", "7.", True, 100.0),
    ]
    # ratios 1.1, 1.5, 0.9: median 1.1; answers b and c differ
    assert task_row("t", answers) == ("t", "3", "2", "3", "2", "1.10 ×")


def test_an_unpaired_item_is_not_counted():
    answers = [answer("bf16", "a", "x", True, 10.0), answer("bf16", "b", "y", True, 10.0)]
    answers.append(answer("f16", "a", "x", False, 20.0))
    assert task_row("t", answers) == ("t", "1", "1", "0", "0", "0.50 ×")


def test_the_summary_has_a_row_per_task_and_one_for_all():
    answers = [
        answer("bf16", "a", "x", True, 10.0, task="capitals"),
        answer("f16", "a", "x", True, 10.0, task="capitals"),
        answer("bf16", "a", "y", False, 10.0, task="yes/no"),
        answer("f16", "a", "n", True, 20.0, task="yes/no"),
    ]
    result = summarize(answers)
    rows = result.tables[0].rows
    assert [r[0] for r in rows] == ["capitals", "yes/no", "all"]
    assert rows[-1] == ("all", "2", "1", "2", "1", "0.75 ×")
    assert result.parameters["items"] == 2
    assert len(result.measurements["answers"]) == 4
