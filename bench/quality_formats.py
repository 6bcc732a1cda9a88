"""Issue 16, point 4: does a schema cut the reasoning short? Answers in three forms, on the
same items, by the default voices (SmolLM2, as `conclave up` starts them):

- `free`: plain text, scored as the quality benchmark scores it;
- `constrained`: JSON under a schema from the first token (`answer_format=direct`);
- `reason first`: one paragraph of free text, then "Answer:" and the JSON
  (`answer_format=reason_first`, the grammar holds only after the marker).

Each task has the schema a client would give it: `{"answer": string}` for capitals,
`{"answer": number}` for sums and products, an enum of the letters for multiple choice,
`["yes", "no"]` for yes/no. Each form is asked of one voice at temperature 0 (what the
format itself does, with no sampling luck), as a `vote` round through the leader's real
RoundRunner on one agent subprocess; ITEMS_AT_ONCE items run at once, so their
generations batch on the agent as a busy swarm's would. A structured answer is scored by
its `answer` field with the task's own scorer; a reply without a valid answer (cut off,
outside the schema) does not vote, and an item whose round has no winner scores 0.

Free answers get the quality benchmark's 32 tokens; both JSON forms get the same budget
and reason first gets REASON_TOKENS (its paragraph must fit): the cost column shows
what that room costs.

`python -m bench quality_formats [--quick] [--repeats N]` prints the tables and saves
bench/results/quality_formats.md and .json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from bench.in_process_round import decided_round
from bench.quality import load_tasks, on_quality_agent
from bench.quality_formats_report import FormatAnswer, summarize
from bench.quality_plays import DEFAULT_TEAM, TEAMS
from bench.result import BenchResult, Options
from conclave.agents.rpc import AgentClients
from conclave.experiments.datasets import Item
from conclave.experiments.scorers import score
from conclave.leader.discovery import AgentDirectory
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner
from conclave.leader.server import default_strategies
from conclave.leader.settings import ParticipantConfig
from conclave.leader.store import RoundStore
from conclave.leader.types import ResponseFormat, RoundRecord, RoundRequest
from conclave.leader.voting.canonical import NO_VALUE, parse_json

log = logging.getLogger(__name__)

NAME = "quality_formats"
ITEMS_AT_ONCE = 4
MAX_TOKENS = 32
REASON_TOKENS = 128
SEED = 2026
QUICK_ITEMS = 2
DEFAULT_ITEMS = 24
PARTICIPANT_TIMEOUT_S = 600.0
ROUND_TIMEOUT_S = 1800.0
FORMATS = ("free", "constrained", "reason first")  # free text first: the baseline
PLAYS = ("one voice, T 0",)
TASK_NAMES = ("capitals", "sums and products", "multiple choice", "yes/no")
TEAM = next(t for t in TEAMS if t.name == DEFAULT_TEAM)


def _answer_schema(value: dict[str, object]) -> dict[str, object]:
    return {
        "type": "object",
        "properties": {"answer": value},
        "required": ["answer"],
        "additionalProperties": False,
    }


def schema_for(task: str, item: Item) -> dict[str, object]:
    """The schema a client would give this task's question."""
    if task == "sums and products":
        return _answer_schema({"type": "number"})
    if task in ("multiple choice", "yes/no"):
        return _answer_schema({"type": "string", "enum": list(item.choices or ("yes", "no"))})
    return _answer_schema({"type": "string"})


def structured_answer(answer: str) -> str | None:
    """The `answer` field of a decided structured round, as text a scorer reads."""
    value = parse_json(answer)
    if value is NO_VALUE or not isinstance(value, dict) or "answer" not in value:
        return None
    field = value["answer"]
    if isinstance(field, float) and field.is_integer():
        field = int(field)
    return field if isinstance(field, str) else json.dumps(field)


def request_for(
    task: str, item: Item, form: str, play: str, voices: tuple[str, ...]
) -> RoundRequest:
    params: dict[str, str] = {}
    response_format = ResponseFormat()
    if form != "free":
        schema = json.dumps(schema_for(task, item))
        response_format = ResponseFormat(type="json_schema", schema=schema, name="answer")
        params["answer_format"] = "reason_first" if form == "reason first" else "direct"
    return RoundRequest(
        messages=item.messages,
        strategy="vote",
        participants=voices,
        max_tokens=REASON_TOKENS if form == "reason first" else MAX_TOKENS,
        temperature=0.0,
        seed=SEED,
        participant_timeout_s=PARTICIPANT_TIMEOUT_S,
        params=params,
        response_format=response_format,
        tags={"bench": NAME, "form": form, "play": play, "item": item.id},
    )


def answer_of(task: str, item: Item, form: str, play: str, got: RoundRecord | str) -> FormatAnswer:
    if isinstance(got, str):
        return FormatAnswer(task, form, play, item.id, f"error: {got}", False, 0, 0.0, "", 0)
    winner = got.decision.winner
    if form == "free":
        text = got.candidates[winner].text if winner is not None else None
    else:
        text = structured_answer(got.decision.answer) if winner is not None else None
    correct = (
        got.status == "decided"
        and text is not None
        and score(item.scorer, text, item.expected, item.choices).correct
    )
    voices = [c for c in got.candidates if c.turn == 0]
    return FormatAnswer(
        task=task,
        form=form,
        play=play,
        item=item.id,
        status=got.status,
        correct=correct,
        tokens=sum(c.prompt_tokens + c.completion_tokens for c in voices),
        wall_s=got.wall_ms / 1000,
        answer=got.decision.answer,
        cut=sum(c.finish_reason == "length" for c in voices),
    )


async def measure(address: str, tasks: dict[str, list[Item]], db: Path) -> list[FormatAnswer]:
    voices = (TEAM.participant(0),)
    configured = [
        ParticipantConfig(name=name, address=address, model=TEAM.models[i], seed_offset=i)
        for i, name in enumerate(voices)
    ]
    store = RoundStore.open(db)
    clients = AgentClients()
    registry = ParticipantRegistry(AgentDirectory(), configured=configured, per_agent=1)
    runner = RoundRunner(
        clients=clients, store=store, participants=registry, strategies=default_strategies()
    )
    out: list[FormatAnswer] = []

    async def one(task: str, item: Item, form: str, play: str) -> FormatAnswer:
        request = request_for(task, item, form, play, voices)
        got = await decided_round(runner, request, ROUND_TIMEOUT_S)
        return answer_of(task, item, form, play, got)

    try:
        warm = next(iter(tasks.values()))[0]
        await one(next(iter(tasks)), warm, "free", PLAYS[0])  # load and page in the model
        started = time.monotonic()
        for task, items in tasks.items():
            for first in range(0, len(items), ITEMS_AT_ONCE):
                group = items[first : first + ITEMS_AT_ONCE]
                # Every form of these items at once: the forms batch on the agent alike.
                out += await asyncio.gather(
                    *(
                        one(task, item, form, play)
                        for item in group
                        for form in FORMATS
                        for play in PLAYS
                    )
                )
                elapsed = time.monotonic() - started
                done = first + len(group)
                log.info("%s %d/%d (%.0f s)", task, done, len(items), elapsed)
    finally:
        await clients.close()
        store.close()
    return out


def run(options: Options | None = None, *, quick: bool = False) -> BenchResult:
    options = options or Options(quick=quick)
    per_task = options.repeats or (QUICK_ITEMS if options.quick else DEFAULT_ITEMS)
    tasks = {name: items for name, items in load_tasks(per_task).items() if name in TASK_NAMES}
    answers = on_quality_agent("bench-formats", lambda address, db: measure(address, tasks, db))
    tables, targets = summarize(answers, tasks=tasks, forms=FORMATS, plays=PLAYS)
    return BenchResult(
        name=NAME,
        title="Answers under a schema: free text, constrained, reason first (default voices)",
        tables=tables,
        targets=targets,
        parameters={
            "items": {name: len(items) for name, items in tasks.items()},
            "voice": f"{TEAM.models[0]} at T 0",
            "items_at_once": ITEMS_AT_ONCE,
            "max_tokens": dict(zip(FORMATS, (MAX_TOKENS, MAX_TOKENS, REASON_TOKENS), strict=True)),
            "seed": SEED,
            "schemas": {t: schema_for(t, items[0]) for t, items in tasks.items()},
        },
        measurements={"answers": [asdict(a) for a in answers]},
    )
