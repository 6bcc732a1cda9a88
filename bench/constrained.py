"""Constrained decoding: what a grammar costs.

1. Grammar compile time: each schema or GBNF below compiled from scratch against the
   bundled model's vocabulary (what the agent does on a cache miss), and fetched again
   from the cache (every later request with the same grammar).
2. Throughput: 4 concurrent streams of MAX_TOKENS tokens on one agent service (4 slots,
   batched), unconstrained (ignore_eos) and constrained (a JSON array of integers long
   enough that max_tokens ends it), alternating, in the same run. Aggregate tok/s =
   all tokens of the 4 streams / (last stream's end - first request sent). Target (issue
   16): constrained >= 0.8 x unconstrained.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.agent_server import AgentProcess, agent_settings
from bench.clients import aio_channel
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.stats import Target
from bench.table import Table, cell
from bench.workload import MAX_TOKENS, BenchError, model_path, prompt_for
from conclave.services.engine.grammar import GrammarCache
from conclave.services.engine.llama_model import LlamaModel
from conclave.services.engine.types import Constraint
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

STREAMS = 4
# Four streams share the cores: each may take 4x a single stream's time, on a busy box more.
STREAM_TIMEOUT_S = 900.0
NUMBERS = {"type": "array", "items": {"type": "integer"}, "minItems": 200, "maxItems": 200}
WEATHER_CALL = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "name": {"const": "get_weather"},
                "arguments": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                    "required": ["city"],
                },
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"response": {"type": "string"}},
            "required": ["response"],
            "additionalProperties": False,
        },
    ]
}
GRAMMARS: dict[str, Constraint] = {
    "enum of 4 letters": Constraint(json_schema=json.dumps({"enum": ["A", "B", "C", "D"]})),
    "object (2 string fields)": Constraint(
        json_schema=json.dumps(
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
                "required": ["name", "country"],
            }
        )
    ),
    "tool call or answer (tools auto)": Constraint(json_schema=json.dumps(WEATHER_CALL)),
    "array of 200 integers": Constraint(json_schema=json.dumps(NUMBERS)),
    "reason first, then an enum": Constraint(
        json_schema=json.dumps({"enum": ["A", "B", "C", "D"]}), after="Answer:"
    ),
    "GBNF arithmetic": Constraint(
        grammar='root ::= expr\nexpr ::= term ("+" term)*\nterm ::= [0-9]+ | "(" expr ")"'
    ),
}


def compile_times(repeats: int) -> dict[str, dict[str, float]]:
    model = LlamaModel(model_path(), vocab_only=True)
    try:
        out = {}
        for name, constraint in GRAMMARS.items():
            fresh, cached = [], []
            for _ in range(repeats):
                cache = GrammarCache(model.vocab)
                start = time.perf_counter()
                cache.get(constraint, leading_space=False)
                fresh.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                cache.get(constraint, leading_space=False)
                cached.append((time.perf_counter() - start) * 1000)
            out[name] = {
                "compile_ms": statistics.median(fresh),
                "cached_ms": statistics.median(cached),
            }
        return out
    finally:
        model.close()


def request(index: int, constrained: bool, seed: int) -> pb.GenerateRequest:
    prompt = prompt_for(index)
    if constrained:
        prompt = f"{prompt} The numbers from 1 to 200 as a JSON array:"
    return pb.GenerateRequest(
        prompt=prompt,
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        seed=seed,
        ignore_eos=not constrained,
        json_schema=json.dumps(NUMBERS) if constrained else "",
    )


async def one_batch(stub, constrained: bool, seed: int) -> dict[str, float]:
    async def stream(i: int) -> tuple[float, float, int]:
        sent = time.monotonic()
        tokens = 0
        async for event in stub.Generate(request(i, constrained, seed), timeout=STREAM_TIMEOUT_S):
            if event.HasField("finished"):
                tokens += event.finished.usage.completion_tokens
        return sent, time.monotonic(), tokens

    results = await asyncio.gather(*(stream(i) for i in range(STREAMS)))
    wall = max(end for _, end, _ in results) - min(sent for sent, _, _ in results)
    tokens = sum(t for _, _, t in results)
    if tokens != STREAMS * MAX_TOKENS:
        raise BenchError(
            f"{'constrained' if constrained else 'free'} streams generated {tokens} tokens; "
            f"each must run all {MAX_TOKENS}"
        )
    return {"tokens": tokens, "wall_s": wall, "tps": tokens / wall}


async def throughput(address: str, rounds: int) -> dict[str, list[dict[str, float]]]:
    channel = aio_channel(address)
    try:
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        await one_batch(stub, True, 0)  # warm-up: the grammar is compiled and cached
        await one_batch(stub, False, 0)
        out: dict[str, list[dict[str, float]]] = {"free": [], "constrained": []}
        for r in range(rounds):
            order = (False, True) if r % 2 == 0 else (True, False)  # no variant always first
            for constrained in order:
                batch = await one_batch(stub, constrained, r + 1)
                out["constrained" if constrained else "free"].append(batch)
        return out
    finally:
        await channel.close()


def run(options: Options) -> BenchResult:
    rounds = options.rounds(default=6, quick=2)
    compiled = compile_times(options.rounds(default=5, quick=2))
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        agent = AgentProcess(agent_settings("bench-agent", slots=STREAMS), Path(tmp))
        with ProcessGroup(agent):
            address = agent.wait_ready()
            measured = asyncio.run(throughput(address, rounds))
    free = statistics.median(b["tps"] for b in measured["free"])
    constrained = statistics.median(b["tps"] for b in measured["constrained"])
    compile_table = Table(
        title="Grammar compile time (bundled model's vocabulary)",
        columns=("grammar", "compile ms (cache miss)", "cached ms (hit)"),
        rows=tuple(
            (name, cell(v["compile_ms"], 2), cell(v["cached_ms"], 3))
            for name, v in compiled.items()
        ),
        notes=(
            "A miss happens once per distinct grammar per agent (LRU cache); every further "
            "request with the same schema is a hit.",
        ),
    )
    tps_table = Table(
        title=f"{STREAMS} concurrent streams × {MAX_TOKENS} tokens, one agent (aggregate tok/s)",
        columns=("variant", "median tok/s", "range tok/s"),
        rows=tuple(
            (
                label,
                cell(statistics.median(b["tps"] for b in measured[key]), 1),
                f"{min(b['tps'] for b in measured[key]):.1f} – "
                f"{max(b['tps'] for b in measured[key]):.1f}",
            )
            for label, key in (
                ("unconstrained", "free"),
                ("constrained (JSON schema)", "constrained"),
            )
        ),
        notes=(
            f"{rounds} batches per variant, alternating; greedy; the constrained streams "
            "write a JSON array of integers that max_tokens cuts off.",
        ),
    )
    return BenchResult(
        name="constrained",
        title="Constrained decoding: compile time and throughput",
        tables=(compile_table, tps_table),
        targets=(
            Target(
                "constrained / unconstrained aggregate tok/s", ">=", 0.8, constrained / free, "×"
            ),
        ),
        parameters={"streams": STREAMS, "max_tokens": MAX_TOKENS, "rounds": rounds},
        measurements={"compile": compiled, "throughput": measured},
    )
