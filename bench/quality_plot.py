"""quality.png: accuracy with its 95 % interval, one panel per task, one colour per team.
Drawn with Pillow (what the project ships) like the experiments' plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from bench.quality_stats import Estimate
from conclave.experiments.plot import PALETTE, _font

PANEL_W, PANEL_H = 560, 300
COLUMNS = 2
LEFT, TOP, BOTTOM = 60, 40, 70
INK, GRID = "#111111", "#e6e6e6"


@dataclass(frozen=True, slots=True)
class Bar:
    task: str
    team: str
    strategy: str
    accuracy: Estimate


def draw(bars: Sequence[Bar], path: Path) -> Path | None:
    if not bars:
        return None
    tasks = list(dict.fromkeys(b.task for b in bars))
    teams = list(dict.fromkeys(b.team for b in bars))
    strategies = list(dict.fromkeys(b.strategy for b in bars))
    rows = (len(tasks) + COLUMNS - 1) // COLUMNS
    image = Image.new("RGB", (PANEL_W * COLUMNS, PANEL_H * rows + 40), "white")
    pen = ImageDraw.Draw(image)
    small, title = _font(11), _font(14)
    for t, task in enumerate(tasks):
        x0, y0 = (t % COLUMNS) * PANEL_W, (t // COLUMNS) * PANEL_H
        _panel(
            pen, [b for b in bars if b.task == task], task, strategies, teams, x0, y0, small, title
        )
    legend_y = PANEL_H * rows + 12
    for i, team in enumerate(teams):
        x = LEFT + i * 140
        pen.rectangle((x, legend_y, x + 12, legend_y + 12), fill=PALETTE[i % len(PALETTE)])
        pen.text((x + 18, legend_y - 1), team, fill=INK, font=title)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _panel(pen, bars, task, strategies, teams, x0, y0, small, title) -> None:
    width, height = PANEL_W - LEFT - 20, PANEL_H - TOP - BOTTOM
    left, top = x0 + LEFT, y0 + TOP
    pen.text((left, y0 + 10), task, fill=INK, font=title)
    for tick in range(0, 101, 25):
        y = top + height * (1 - tick / 100)
        pen.line((left, y, left + width, y), fill=GRID)
        pen.text((x0 + 20, y - 6), f"{tick}%", fill=INK, font=small)
    slot = width / max(len(strategies), 1)
    bar_w = slot / (len(teams) + 1)
    for bar in bars:
        s, m = strategies.index(bar.strategy), teams.index(bar.team)
        x = left + s * slot + (m + 0.5) * bar_w
        colour = PALETTE[m % len(PALETTE)]
        y = top + height * (1 - bar.accuracy.value)
        pen.rectangle((x, y, x + bar_w * 0.9, top + height), fill=colour)
        low, high = (top + height * (1 - v) for v in (bar.accuracy.low, bar.accuracy.high))
        middle = x + bar_w * 0.45
        pen.line((middle, low, middle, high), fill=INK, width=1)
    for s, strategy in enumerate(strategies):
        label = (
            strategy.split(" (")[0]
            .replace("majority ", "")
            .replace("one voice at temperature 0", "T=0")
        )
        pen.text(
            (left + s * slot + 2, top + height + 6 + (s % 2) * 14), label[:18], fill=INK, font=small
        )
