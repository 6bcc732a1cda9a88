"""Issue 13: answer quality. Does a team of small local models beat one of its voices?

Every shipped task (capitals, mixed facts, generated sums and products, multiple choice,
yes/no) is asked of teams of seven voices on one agent service (a subprocess serving
both bundled models, as `conclave up` does), through the leader's real RoundRunner:

- `gemma`: Gemma 3 270M (a base model, completion-style chat format);
- `smollm2`: SmolLM2-135M-Instruct in the completion format (what it serves by default);
- `smollm2-template`: the same model through its own chat template (one voice and votes
  only: the evidence for the format SmolLM2 is served in);
- `mixed`: the two models alternating (gemma, smollm2, gemma, ...).

What each team is asked, per item (plays):

- `votes`: all seven voices at once, early stop off, majority vote. The first 1, 3, 5
  and 7 voices of this round give "one voice" (the mean over the seven voices, each
  scored alone) and "vote of 3/5/7": a vote over the first k voices is exactly the round
  those k voices would have had (voices do not see each other, each has its own seed);
- `greedy`: one voice at temperature 0 (what a user of one model would get at best);
- `parallel`: three voices, one critique turn, then a majority vote;
- `moa`: three proposers, the first aggregates;
- `judge`: three voices, the first picks the most consistent answer.

The plays of one item run at once (as a busy swarm would), so their wall times overlap;
cost is measured apart: on every `COST_EVERY`-th item each play runs again alone, one
round at a time, and votes of 1, 3, 5 and 7 voices with early stop on, as the product
runs them. Those rounds give the "wall s / answer" column; tokens are every candidate's
prompt and completion tokens per decided answer, over all items.

Accuracy is over items with a 95 % bootstrap interval; "vs one voice" is the paired
difference to the same team's one voice, with its interval.

`python -m bench quality [--quick] [--repeats N]` (or `make bench ARGS=quality`) prints
the tables, saves bench/results/quality.md and .json, and draws bench/results/quality.png.
`--repeats N` asks N items per task, spread evenly over each file, instead of all.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TypeVar

import yaml

from bench.agent_server import AgentProcess, agent_settings
from bench.in_process_round import decided_round
from bench.order import rotated
from bench.procs import ProcessGroup
from bench.quality_plays import (
    AGENT_MODELS,
    CONVERSATIONS,
    COST_VOTES,
    DEFAULT_TEAM,
    GREEDY,
    TASKS,
    TEAMS,
    VOICES,
    VOTES,
    Answer,
    Play,
    Team,
)
from bench.quality_report import summarize
from bench.result import BenchResult, Options
from conclave.agents.rpc import AgentClients
from conclave.experiments.datasets import DatasetSpec, Item, load_dataset
from conclave.experiments.scorers import score
from conclave.leader.discovery import AgentDirectory
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner
from conclave.leader.server import default_strategies
from conclave.leader.settings import ParticipantConfig
from conclave.leader.store import RoundStore
from conclave.leader.types import RoundRecord, RoundRequest
from conclave.leader.voting import METHODS, VoteParams

log = logging.getLogger(__name__)
T = TypeVar("T")

NAME = "quality"
DATASETS = Path(__file__).resolve().parent.parent / "experiments" / "datasets"
AGENT_SLOTS = 8  # seven voices, and the judge's question beside a straggler
MAX_TOKENS = 32
SEED = 2026
COST_EVERY = 12
QUICK_ITEMS = 2
PARTICIPANT_TIMEOUT_S = 300.0
ROUND_TIMEOUT_S = 1800.0


def _correct(text: str, item: Item) -> bool:
    return score(item.scorer, text, item.expected, item.choices).correct


def answer_of(task: str, team: Team, play: Play, item: Item, record: RoundRecord) -> Answer:
    winner = record.decision.winner
    text = record.candidates[winner].text if winner is not None else ""
    extra: dict[str, object] = {}
    if play.id == "votes":
        voices = [c for c in record.candidates if c.turn == 0]
        extra["voices_correct"] = tuple(c.ok and _correct(c.text, item) for c in voices)
        extra["voices_tokens"] = tuple(c.prompt_tokens + c.completion_tokens for c in voices)
        method = METHODS["majority"]
        first_k = {}
        for k in (3, 5, VOICES):
            decision = method.vote(voices[:k], VoteParams())
            first_k[k] = decision.winner is not None and _correct(
                voices[decision.winner].text, item
            )
        extra["first_k_correct"] = first_k
    return Answer(
        task=task,
        team=team.name,
        play=play.id,
        item=item.id,
        status=record.status,
        correct=winner is not None and record.status == "decided" and _correct(text, item),
        wall_s=record.wall_ms / 1000,
        prompt_tokens=sum(c.prompt_tokens for c in record.candidates),
        completion_tokens=sum(c.completion_tokens for c in record.candidates),
        answer=record.decision.answer,
        **extra,  # type: ignore[arg-type]
    )


def load_tasks(per_task: int | None) -> dict[str, list[Item]]:
    """Every item of each task, or `per_task` of them spread evenly over the file (the
    files run through their kinds in order: the first N would be one kind)."""
    out = {}
    for task in TASKS:
        spec = DatasetSpec(path=Path(task.file), scorer=task.scorer)
        items = list(load_dataset(spec, DATASETS).items)
        if per_task is not None and per_task < len(items):
            items = [items[i * len(items) // per_task] for i in range(per_task)]
        out[task.name] = items
    return out


def participants(address: str) -> list[ParticipantConfig]:
    return [
        ParticipantConfig(name=team.participant(i), address=address, model=model, seed_offset=i)
        for team in TEAMS
        for i, model in enumerate(team.models)
    ]


async def ask(
    runner: RoundRunner, team: Team, play: Play, item: Item, seed: int
) -> RoundRecord | str:
    request = RoundRequest(
        messages=item.messages,
        strategy=play.strategy,
        method=play.method,
        participants=tuple(team.participant(i) for i in range(play.voices)),
        max_tokens=MAX_TOKENS,
        temperature=0.0 if play.greedy else team.temperature,
        seed=seed,
        participant_timeout_s=PARTICIPANT_TIMEOUT_S,
        params=dict(play.params),
        tags={"bench": NAME, "team": team.name, "play": play.id, "item": item.id},
    )
    return await decided_round(runner, request, ROUND_TIMEOUT_S)


async def measure(address: str, tasks: dict[str, list[Item]], db: Path) -> list[Answer]:
    store = RoundStore.open(db)
    clients = AgentClients()
    registry = ParticipantRegistry(AgentDirectory(), configured=participants(address), per_agent=1)
    runner = RoundRunner(
        clients=clients, store=store, participants=registry, strategies=default_strategies()
    )
    answers: list[Answer] = []

    async def one(
        task: str, team: Team, play: Play, item: Item, index: int, alone: bool = False
    ) -> Answer:
        got = await ask(runner, team, play, item, seed=SEED + index)
        if isinstance(got, str):
            answer = _failed(task, team, play, item, got)
        else:
            answer = answer_of(task, team, play, item, got)
        return replace(answer, alone=alone)

    try:
        # Warm-up (not measured): load every model, page the weights in, fill the caches.
        first = next(iter(tasks.values()))[0]
        await asyncio.gather(*(ask(runner, team, VOTES, first, seed=SEED - 1) for team in TEAMS))
        turn = 0
        started = time.monotonic()
        for task, items in tasks.items():
            for index, item in enumerate(items):
                answers += await asyncio.gather(
                    *(one(task, t, p, item, index) for t in TEAMS for p in t.plays)
                )
                if index % COST_EVERY == 0:
                    for team in rotated(TEAMS, turn):
                        costs = [*COST_VOTES, GREEDY, *CONVERSATIONS]
                        for play in rotated([p for p in costs if _plays(team, p)], turn):
                            answers.append(await one(task, team, play, item, index, alone=True))
                turn += 1
                elapsed = time.monotonic() - started
                log.info("%s %d/%d (%.0f s)", task, index + 1, len(items), elapsed)
    finally:
        await clients.close()
        store.close()
    return answers


def _plays(team: Team, play: Play) -> bool:
    """Whether `team` is asked `play` (a cost play stands for the team's votes)."""
    return play in team.plays or (play in COST_VOTES and VOTES in team.plays)


def _failed(task: str, team: Team, play: Play, item: Item, error: str) -> Answer:
    return Answer(task, team.name, play.id, item.id, f"error: {error}", False, 0.0, 0, 0, "")


def on_quality_agent(name: str, measure_with: Callable[[str, Path], Awaitable[T]]) -> T:
    """`measure_with(address, rounds_db)` run against one agent subprocess serving both
    bundled models (AGENT_MODELS), as the quality benchmarks ask them."""
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        config = Path(tmp) / "agent.yaml"
        config.write_text(yaml.safe_dump({"models": list(AGENT_MODELS), "queue_limit": 256}))
        settings = agent_settings(name, slots=AGENT_SLOTS).model_copy(
            update={"config_file": config}
        )
        agent = AgentProcess(settings, Path(tmp))
        with ProcessGroup(agent):
            address = agent.wait_ready()
            return asyncio.run(measure_with(address, Path(tmp) / "rounds.db"))


def run(options: Options | None = None, *, quick: bool = False) -> BenchResult:
    options = options or Options(quick=quick)
    # --repeats N: N items per task (a shorter run with wider intervals).
    tasks = load_tasks(options.repeats or (QUICK_ITEMS if options.quick else None))
    answers = on_quality_agent("bench-quality", lambda address, db: measure(address, tasks, db))
    result = summarize(
        answers,
        teams=TEAMS,
        tasks=tasks,
        out_dir=options.out_dir,
        default_team=DEFAULT_TEAM,
        voices=VOICES,
    )
    return BenchResult(
        name=NAME,
        title="Answer quality: one voice against the team, on the bundled models",
        tables=result.tables,
        targets=result.targets,
        parameters={
            "items": {name: len(items) for name, items in tasks.items()},
            "teams": "; ".join(
                f"{t.name}: {', '.join(t.models)} at T {t.temperature}" for t in TEAMS
            ),
            "plays": ", ".join(p.id for p in (VOTES, GREEDY, *CONVERSATIONS)),
            "max_tokens": MAX_TOKENS,
            "seed": SEED,
            "agent_slots": AGENT_SLOTS,
            "cost_every": COST_EVERY,
            "default_team": DEFAULT_TEAM,
        },
        measurements={"answers": [asdict(a) for a in answers], "plot": str(result.plot)},
    )
