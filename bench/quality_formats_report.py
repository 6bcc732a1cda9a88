"""The answer-format benchmark's tables and targets, from its answers (pure).

One table per task: for each play (one voice at temperature 0, a vote of three), each
form's accuracy with its 95 % interval, the paired difference to free text on the same
items, the share of voices cut off by max_tokens, and tokens per answer. Then one table
over all tasks, and the target of issue 16: reason first is not worse than constrained.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bench.quality_stats import mean_interval, paired_difference
from bench.stats import Target
from bench.table import Table, cell

if TYPE_CHECKING:
    from conclave.experiments.datasets import Item


@dataclass(frozen=True, slots=True)
class FormatAnswer:
    """What one round said about one item in one form."""

    task: str
    form: str  # free | constrained | reason first
    play: str  # one voice, T 0 | vote of 3
    item: str
    status: str  # decided | no_quorum | error: ...
    correct: bool
    tokens: int  # every voice's prompt and completion tokens
    wall_s: float
    answer: str
    cut: int  # voices stopped by max_tokens


def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _scores(answers: Sequence[FormatAnswer], items: Sequence[str]) -> list[float]:
    by_item = {a.item: a for a in answers}
    return [float(i in by_item and by_item[i].correct) for i in items]


def _table(
    title: str,
    answers: Sequence[FormatAnswer],
    items: Sequence[str],
    forms: Sequence[str],
    plays: Sequence[str],
) -> tuple[Table, dict[tuple[str, str], list[float]]]:
    rows = []
    scores: dict[tuple[str, str], list[float]] = {}
    for play in plays:
        for form in forms:
            mine = [a for a in answers if a.form == form and a.play == play]
            scores[(play, form)] = _scores(mine, items)
        free = scores[(play, forms[0])]
        for form in forms:
            mine = [a for a in answers if a.form == form and a.play == play]
            accuracy = mean_interval(scores[(play, form)])
            diff = (
                "—"
                if form == forms[0]
                else paired_difference(scores[(play, form)], free).signed_points()
            )
            voices = 1 if play.startswith("one") else 3
            cut = sum(a.cut for a in mine) / max(1, voices * len(mine))
            tokens = statistics.fmean(a.tokens for a in mine) if mine else None
            rows.append((play, form, accuracy.points(), diff, f"{cut:.0%}", cell(tokens, 0)))
    table = Table(
        title=title,
        columns=(
            "answered by",
            "form",
            "accuracy [95 %]",
            "vs free text, pts [95 %]",
            "voices cut off",
            "tokens / answer",
        ),
        rows=tuple(rows),
        align=("left", "left", "right", "right", "right", "right"),
    )
    return table, scores


def summarize(
    answers: Sequence[FormatAnswer],
    *,
    tasks: Mapping[str, Sequence[Item]],
    forms: Sequence[str],
    plays: Sequence[str],
) -> tuple[tuple[Table, ...], tuple[Target, ...]]:
    """`forms` start with free text (the baseline), then constrained, then reason first."""
    tables = []
    for task, items in tasks.items():
        mine = [a for a in answers if a.task == task]
        ids = [i.id for i in items]
        tables.append(_table(f"{task}: {_items(len(ids))}", mine, ids, forms, plays)[0])
    # Over all tasks an item is known by its task too: ids are unique only within a file.
    keyed = [replace(a, item=f"{a.task}/{a.item}") for a in answers]
    all_ids = [f"{task}/{i.id}" for task, items in tasks.items() for i in items]
    overall, scores = _table(f"all tasks: {_items(len(all_ids))}", keyed, all_ids, forms, plays)
    tables.append(overall)
    constrained, reason = forms[1], forms[2]

    def gain(play: str) -> float | None:
        if not all_ids:
            return None
        return statistics.fmean(scores[(play, reason)]) - statistics.fmean(
            scores[(play, constrained)]
        )

    targets = tuple(
        Target(f"{play}: reason first − constrained, all tasks", ">=", 0.0, gain(play))
        for play in plays
    )
    return tuple(tables), targets
