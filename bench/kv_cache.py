"""The default mode's BF16 KV cache against llama.cpp's F16 one: answers and time.

Batch invariance needs every attention call to take one kernel, and only a cache that is
neither F16 nor F32 guarantees it (conclave/services/engine/context_setup.py). This
asks what the BF16 cache costs: every item of the five quality tasks
(bench/quality_plays.py, 397 items) is asked once, greedy, of two engines loaded side by
side in this process, the agent's default mode (batch-invariant, BF16 cache) and the same
with an F16 cache, in an order alternating item by item. Per task: the items each
answered right, the answers that differ, and the median over items of the ratio of their
wall times (BF16 / F16; the engines take turns on the cores, so the ratio is paired).

`python -m bench kv_cache [--quick]` (`--quick`: 8 items per task) prints the table and
saves bench/results/kv_cache.md and .json.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace

import llama_cpp

from bench.agent_server import agent_settings
from bench.order import rotated
from bench.quality import load_tasks
from bench.result import BenchResult, Options
from bench.stats import median, ratio
from bench.table import Table, cell
from bench.workload import CONTEXT_SIZE, THREADS
from conclave.experiments.datasets import Item
from conclave.experiments.scorers import score
from conclave.services.engine.factory import llama_engine_config
from conclave.services.engine.llama_engine import LlamaEngine
from conclave.services.engine.types import (
    ChatMessage,
    Finished,
    GenerationRequest,
    SamplingParams,
)
from conclave.services.hardware.detect import detect_hardware
from conclave.services.model_source import bundled_model, default_cache_dir

log = logging.getLogger(__name__)

NAME = "kv_cache"
QUICK_ITEMS = 8
MAX_TOKENS = 32
# None: the mode's own type (BF16 when batch-invariant).
CACHES: dict[str, int | None] = {"bf16": None, "f16": llama_cpp.GGML_TYPE_F16}


@dataclass(frozen=True, slots=True)
class Answer:
    cache: str
    task: str
    item: str
    text: str
    correct: bool
    wall_ms: float
    completion_tokens: int


def engines() -> dict[str, LlamaEngine]:
    """Both engines, sharing one lock on the cores as the models of one agent do."""
    settings = agent_settings(NAME, slots=2)
    config = llama_engine_config(settings, bundled_model(default_cache_dir()), detect_hardware())
    cores = threading.Lock()
    return {
        name: LlamaEngine(
            replace(config, scheduler=replace(config.scheduler, kv_cache_type=cache_type)),
            cores=cores,
        )
        for name, cache_type in CACHES.items()
    }


async def ask(engine: LlamaEngine, cache: str, task: str, item: Item) -> Answer:
    request = GenerationRequest(
        request_id=uuid.uuid4().hex,
        messages=tuple(ChatMessage(role, content) for role, content in item.messages),
        sampling=SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0),
    )
    began = time.perf_counter()
    finished = [event async for event in engine.generate(request) if isinstance(event, Finished)]
    wall_ms = (time.perf_counter() - began) * 1000
    text = finished[0].text
    return Answer(
        cache=cache,
        task=task,
        item=item.id,
        text=text,
        correct=score(item.scorer, text, item.expected, item.choices).correct,
        wall_ms=wall_ms,
        completion_tokens=finished[0].usage.completion_tokens,
    )


async def measure(per_task: int | None) -> list[Answer]:
    served = engines()
    answers: list[Answer] = []
    try:
        order = 0
        for task, items in load_tasks(per_task).items():
            for item in items:
                for cache in rotated(list(served), order):
                    answers.append(await ask(served[cache], cache, task, item))
                order += 1
            log.info("%s: %d items", task, len(items))
    finally:
        for engine in served.values():
            engine.close()
    return answers


def run(options: Options | None = None, *, quick: bool = False) -> BenchResult:
    options = options or Options(quick=quick)
    answers = asyncio.run(measure(QUICK_ITEMS if options.quick else None))
    return summarize(answers)


def summarize(answers: list[Answer]) -> BenchResult:
    tasks = list(dict.fromkeys(a.task for a in answers))
    rows = [task_row(task, [a for a in answers if a.task == task]) for task in tasks]
    rows.append(task_row("all", answers))
    table = Table(
        title="Greedy answers and wall time: BF16 (the default mode's) vs F16 KV cache",
        columns=("task", "items", "right, bf16", "right, f16", "answers differ", "wall bf16 / f16"),
        rows=tuple(rows),
        notes=(
            "the same items asked once of each engine, greedy, max_tokens "
            f"{MAX_TOKENS}, the order alternating item by item",
            "wall: median over items of the paired ratio (the engines take turns on the "
            "cores); both engines keep their prompt caches",
        ),
    )
    return BenchResult(
        name=NAME,
        title="KV cache type: BF16 (batch invariance) against llama.cpp's F16",
        tables=(table,),
        parameters={
            "items": len({(a.task, a.item) for a in answers}),
            "max_tokens": MAX_TOKENS,
            "temperature": 0.0,
            "context_size": CONTEXT_SIZE,
            "threads": THREADS,
        },
        measurements={"answers": [asdict(a) for a in answers]},
    )


def task_row(task: str, answers: list[Answer]) -> tuple[str, ...]:
    by_item: dict[tuple[str, str], dict[str, Answer]] = {}
    for a in answers:
        by_item.setdefault((a.task, a.item), {})[a.cache] = a
    pairs = [p for p in by_item.values() if set(p) == set(CACHES)]
    right = {cache: sum(p[cache].correct for p in pairs) for cache in CACHES}
    differ = sum(p["bf16"].text != p["f16"].text for p in pairs)
    wall = median(ratio(p["bf16"].wall_ms, p["f16"].wall_ms) for p in pairs)
    return (
        task,
        str(len(pairs)),
        str(right["bf16"]),
        str(right["f16"]),
        str(differ),
        cell(wall, 2, "×"),
    )
