"""The quality benchmark's tables, targets and plot, from its answers (pure but the plot).

One table per task: for each team, one voice and every team strategy, with accuracy
(95 % interval), the paired difference to the team's one voice, tokens and wall time per
decided answer, and a plain verdict: better, worse, or not distinguishable from one voice.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.quality_plays import Answer, Team
from bench.quality_plot import Bar, draw
from bench.quality_stats import Estimate, mean_interval, paired_difference
from bench.stats import Target
from bench.table import Table, cell

if TYPE_CHECKING:
    from conclave.experiments.datasets import Item

IMPROVEMENT_TARGET = 0.10


@dataclass(frozen=True, slots=True)
class Row:
    """One way of answering, as the report needs it: per-item scores and costs."""

    label: str
    scores: list[float]
    tokens: float | None
    wall_s: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    tables: tuple[Table, ...]
    targets: tuple[Target, ...]
    plot: Path | None
    best: dict[str, tuple[str, str, Estimate]]  # task -> (team, strategy, difference)


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


class _Answers:
    """The answers of one task and team, by play and item."""

    def __init__(self, answers: Sequence[Answer], items: Sequence[Item]) -> None:
        self._items = [i.id for i in items]
        self._by = {(a.play, a.item): a for a in answers if not a.alone}
        self._alone = [a for a in answers if a.alone]

    def of(self, play: str) -> list[Answer | None]:
        return [self._by.get((play, item)) for item in self._items]

    def walls(self, play: str) -> list[float]:
        """Wall times of the play's rounds asked alone (the cost sample)."""
        return [a.wall_s for a in self._alone if a.play == play and a.status == "decided"]

    def scores(self, play: str, pick: Callable[[Answer], float]) -> list[float]:
        """`pick` of each item's answer; an item whose round failed scores 0."""
        return [
            0.0 if a is None or a.status.startswith("error") else pick(a) for a in self.of(play)
        ]


def rows_of(answers: _Answers, voices: int, plays: set[str]) -> list[Row]:
    """The ways one team answered: one voice and the votes, then the other plays it ran."""
    votes = [a for a in answers.of("votes") if a is not None and a.voices_correct]

    def play_row(label: str, play: str) -> Row:
        got = answers.of(play)
        decided = [a for a in got if a is not None and a.status == "decided"]
        return Row(
            label,
            [float(a is not None and a.correct) for a in got],
            _mean([float(a.prompt_tokens + a.completion_tokens) for a in decided]),
            _median(answers.walls(play)),
        )

    rows = [
        Row(
            "one voice (mean of the team's voices)",
            answers.scores("votes", lambda a: statistics.fmean(a.voices_correct or [0.0])),
            _mean([statistics.fmean(a.voices_tokens) for a in votes]),
            _median(answers.walls("cost-1")),
        ),
        play_row("one voice at temperature 0", "greedy"),
    ]
    for k in (3, 5, voices):
        rows.append(
            Row(
                f"majority vote of {k}",
                answers.scores("votes", lambda a, k=k: float(a.first_k_correct.get(k, False))),
                _mean([float(sum(a.voices_tokens[:k])) for a in votes]),
                _median(answers.walls(f"cost-{k}")),
            )
        )
    rows += [
        play_row(label, play)
        for label, play in (
            ("parallel critique (3 voices, 1 turn)", "parallel"),
            ("moa (3 proposers, 1 aggregator)", "moa"),
            ("judge (3 voices, one judges)", "judge"),
        )
        if play in plays
    ]
    return rows


def _verdict(difference: Estimate) -> str:
    if difference.clearly_above_zero:
        return "better than one voice"
    if difference.clearly_below_zero:
        return "WORSE than one voice"
    return "no clear difference"


def summarize(
    answers: Sequence[Answer],
    *,
    teams: Sequence[Team],
    tasks: Mapping[str, Sequence[Item]],
    out_dir: Path,
    default_team: str,
    voices: int,
) -> Summary:
    tables: list[Table] = []
    bars: list[Bar] = []
    best: dict[str, tuple[str, str, Estimate]] = {}
    singles: dict[tuple[str, str], Estimate] = {}
    for task, items in tasks.items():
        table_rows = []
        for team in teams:
            mine = _Answers([a for a in answers if a.task == task and a.team == team.name], items)
            rows = rows_of(mine, voices, {p.id for p in team.plays})
            base = rows[0]
            singles[(task, team.name)] = mean_interval(base.scores)
            for row in rows:
                accuracy = mean_interval(row.scores)
                bars.append(Bar(task, team.name, row.label, accuracy))
                if row is base:
                    diff_text, verdict = "—", "(the baseline)"
                else:
                    diff = paired_difference(row.scores, base.scores)
                    diff_text, verdict = diff.signed_points(), _verdict(diff)
                    if row.label != "one voice at temperature 0" and (
                        task not in best or diff.value > best[task][2].value
                    ):
                        best[task] = (team.name, row.label, diff)
                table_rows.append(
                    (
                        team.name,
                        row.label,
                        accuracy.points(),
                        diff_text,
                        cell(row.tokens, 0),
                        cell(row.wall_s, 2),
                        verdict,
                    )
                )
        tables.append(
            Table(
                title=f"{task}: {len(items)} items",
                columns=(
                    "team",
                    "answered by",
                    "accuracy [95 %]",
                    "vs one voice, pts [95 %]",
                    "tokens / answer",
                    "wall s / answer",
                    "verdict",
                ),
                rows=tuple(table_rows),
                align=("left", "left", "right", "right", "right", "right", "left"),
            )
        )
    tables.append(_best_table(best))
    plot = draw(bars, out_dir / "quality.png")
    return Summary(tuple(tables), _targets(singles, best, default_team), plot, best)


def _best_table(best: Mapping[str, tuple[str, str, Estimate]]) -> Table:
    return Table(
        title="Best team strategy per task, against the same team's one voice",
        columns=("task", "team", "strategy", "vs one voice, pts [95 %]"),
        rows=tuple(
            (task, team, label, d.signed_points()) for task, (team, label, d) in best.items()
        ),
        notes=(
            "one voice = the mean accuracy of the team's voices asked alone, at the team's "
            "temperature; intervals are bootstrapped over items (paired for differences)",
        ),
    )


def _targets(
    singles: Mapping[tuple[str, str], Estimate],
    best: Mapping[str, tuple[str, str, Estimate]],
    default_team: str,
) -> tuple[Target, ...]:
    def single(task: str) -> float | None:
        found = singles.get((task, default_team))
        return found.value if found else None

    top = max((d.value for _, _, d in best.values()), default=None)
    return (
        Target(
            f"one voice of the default ({default_team}): capitals", ">=", 0.70, single("capitals")
        ),
        Target(
            f"one voice of the default ({default_team}): mixed facts",
            ">=",
            0.50,
            single("mixed facts"),
        ),
        Target("best team strategy − one voice, best task", ">=", IMPROVEMENT_TARGET, top),
    )
