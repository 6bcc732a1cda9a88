"""Issue 20: Conclave's agent service against llama.cpp's own C++ `llama-server`.

Four servers load together, all on the bundled model, 8 slots × 1,024 tokens each, 2
llama.cpp threads, greedy decoding:

- agent: the agent service in its default mode (batch-invariant: plain weights, ggml's
  tiled kernel off, flash attention, a BF16 KV stream per slot);
- agent fast: the same in fast mode (shared KV pool, weights repacked once a self-test
  passed on this CPU);
- llama-server: built from the vendored llama.cpp of the pinned llama-cpp-python
  (bench/llama_cpp_build.py, same CMake defaults as the agent's wheel), with its own
  defaults for the kernels (repacking, tiled kernel, -fa auto), `--parallel 8`,
  continuous batching and `cache_prompt`;
- llama-server plain: the same binary on the agent's default kernels (`--no-repack`,
  GGML_CPU_TILED_MM=0, `-fa on`, a bf16 KV cache), so agent / plain isolates the server
  around them.

Two workloads, each interleaved with the variants' order rotated (bench/order.py) and
bounded in time:

a) streams: 1, 4 and 8 concurrent 128-token generations from raw prompts (the agent
   over gRPC streaming, llama-server over /v1/completions streaming): aggregate tok/s,
   median time to first token, and agent / llama-server ratios paired by round;
b) rounds: 3 voices (the personas of bench/strategies.py) answer one short question,
   then each gets the critique prompt Conclave's leader builds from the three answers
   (bench/round_workload.py), as chat messages; the round's wall time, its prompt tokens
   and how many were prefilled vs taken from the server's cache, per question.

`python -m bench vs_llama_server [--quick]` runs both and writes
bench/results/vs_llama_server.md/.json; `python -m bench.vs_llama_server --only rounds`
(or `streams`) runs one part into vs_llama_server_<part>.md/.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import grpc
import httpx
from rich.console import Console

from bench import report
from bench.agent_server import AgentProcess, agent_settings
from bench.clients import grpc_stream_async
from bench.concurrency_report import Burst
from bench.llama_cpp_build import LlamaServerBuild, ensure_built, pinned_version, wheel_system_info
from bench.llama_cpp_server import (
    AGENT_KERNELS,
    DEFAULTS,
    LlamaCppServerProcess,
    chat_stream,
    completion_stream,
    prompt_stream,
)
from bench.machine import machine_info
from bench.order import RoundBudget, rotated
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.round_workload import (
    QUESTIONS,
    Chat,
    agent_chat_format,
    as_dicts,
    critique_turn,
    first_turn,
    render,
    voices,
)
from bench.timing import StreamTiming
from bench.vs_llama_server_report import (
    AGENT,
    AGENT_FAST,
    AGENTS,
    SERVER,
    SERVER_PLAIN,
    Reply,
    RoundSample,
    Side,
    cpu_features_notes,
    round_ratio_table,
    rounds_table,
    setup_table,
    streams_table,
    targets,
    ttft_table,
)
from bench.workload import CONTEXT_SIZE, MAX_TOKENS, THREADS, BenchError, model_path, prompt_for
from conclave.services.engine.chat_format import ChatFormat
from conclave.v1 import agent_pb2 as pb
from conclave.v1 import agent_pb2_grpc

log = logging.getLogger(__name__)

NAME = "vs_llama_server"
PARTS = ("streams", "rounds")
VARIANTS = (AGENT, AGENT_FAST, SERVER, SERVER_PLAIN)
SLOTS = 8
LEVELS = (1, 4, 8)
STREAM_ROUNDS, QUICK_STREAM_ROUNDS = 3, 1
ROUND_MAX_TOKENS = 48  # as bench/strategies.py: short answers
QUICK_QUESTIONS = 2
# Another round (of levels, or question) starts only if it fits in the budget, judging by
# the longest so far; past the hard deadline even round 0 skips what is left. On a machine
# busy with other work a burst of 8 streams can take a minute: the deadlines keep a run
# to about half an hour at worst.
STREAMS_BUDGET_S = 420.0
ROUNDS_BUDGET_S = 420.0
HARD_DEADLINE_S = 720.0  # per part
BURST_TIMEOUT_S = 180.0
ROUND_TIMEOUT_S = 300.0
CONNECT_TIMEOUT_S = 30.0
SETTLE_S = 0.5  # lets the last variant's llama.cpp threads stop spinning
WARM_UP_QUESTION = "What is 2 + 2?"  # not one of the measured questions
TEMPLATE = "gguf-template"  # the chat format of a model with its own Jinja template

# ---- one request, each way ---------------------------------------------------------------


async def agent_chat(stub: agent_pb2_grpc.AgentServiceStub, chat: Chat, max_tokens: int) -> Reply:
    request = pb.GenerateRequest(
        messages=[pb.ChatMessage(role=r, content=c) for r, c in chat],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    parts: list[str] = []
    first = None
    usage = None
    sent = time.monotonic()
    async for event in stub.Generate(request, timeout=ROUND_TIMEOUT_S):
        kind = event.WhichOneof("event")
        if kind == "delta" and event.delta.text:
            first = first or time.monotonic()
            parts.append(event.delta.text)
        elif kind == "finished":
            usage = event.finished.usage
    end = time.monotonic()
    if usage is None:
        raise BenchError("agent stream ended without a finished event")
    return Reply(
        text="".join(parts),
        prompt_tokens=usage.prompt_tokens,
        cached_tokens=usage.cached_prompt_tokens,
        completion_tokens=usage.completion_tokens,
        sent=sent,
        first=first if first is not None else end,
        end=end,
    )


class Endpoint:
    """One variant's server, as the workloads talk to it. `chat_format`: the agent's, for
    llama-server: a template model's turns go to its /v1/chat/completions (the same
    template), any other format's rendered prompt to its /v1/completions."""

    def __init__(self, variant: str, url: str, chat_format: ChatFormat) -> None:
        self.variant = variant
        self.url = url  # HOST:PORT for an agent, a base URL for llama-server
        self.chat_format = chat_format

    @property
    def is_agent(self) -> bool:
        return self.variant in AGENTS

    async def _server_reply(self, client: httpx.AsyncClient, chat: Chat) -> Reply:
        if self.chat_format.name == TEMPLATE:
            return await chat_stream(client, self.url, as_dicts(chat), ROUND_MAX_TOKENS)
        prompt = render(self.chat_format, chat)
        return await prompt_stream(client, self.url, prompt, ROUND_MAX_TOKENS)

    async def streams(self, n: int, offset: int) -> list[StreamTiming]:
        if self.is_agent:
            async with grpc.aio.insecure_channel(self.url) as channel:
                await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
                stub = agent_pb2_grpc.AgentServiceStub(channel)
                calls = (
                    grpc_stream_async(stub, prompt_for(offset + i), MAX_TOKENS) for i in range(n)
                )
                return list(await asyncio.wait_for(asyncio.gather(*calls), BURST_TIMEOUT_S))
        async with httpx.AsyncClient() as client:
            calls = (
                completion_stream(client, self.url, prompt_for(offset + i), MAX_TOKENS)
                for i in range(n)
            )
            return list(await asyncio.wait_for(asyncio.gather(*calls), BURST_TIMEOUT_S))

    async def round(self, question: str, index: int) -> RoundSample:
        """Every voice's first turn together, then every voice's critique turn together."""
        team = voices()
        if self.is_agent:
            async with grpc.aio.insecure_channel(self.url) as channel:
                await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
                stub = agent_pb2_grpc.AgentServiceStub(channel)
                before = await stub.GetInfo(pb.GetInfoRequest(), timeout=CONNECT_TIMEOUT_S)

                async def send(chats: Sequence[Chat]) -> list[Reply]:
                    return list(
                        await asyncio.gather(
                            *(agent_chat(stub, c, ROUND_MAX_TOKENS) for c in chats)
                        )
                    )

                started = time.monotonic()
                first = await send([first_turn(question, v) for v in team])
                second = await send(critique_turn(question, team, [r.text for r in first]))
                wall = time.monotonic() - started
                after = await stub.GetInfo(pb.GetInfoRequest(), timeout=CONNECT_TIMEOUT_S)
            return RoundSample(
                self.variant,
                index,
                wall,
                (*first, *second),
                info_prefilled=after.prompt_tokens_prefilled_total
                - before.prompt_tokens_prefilled_total,
                info_cached=after.prompt_tokens_cached_total - before.prompt_tokens_cached_total,
            )
        async with httpx.AsyncClient() as client:

            async def post(chats: Sequence[Chat]) -> list[Reply]:
                return list(await asyncio.gather(*(self._server_reply(client, c) for c in chats)))

            started = time.monotonic()
            first = await post([first_turn(question, v) for v in team])
            second = await post(critique_turn(question, team, [r.text for r in first]))
            wall = time.monotonic() - started
        return RoundSample(self.variant, index, wall, (*first, *second))


# ---- the measurements ---------------------------------------------------------------------


def _attempt(what: str, work: Callable[[], Coroutine[Any, Any, Any]], timeout: float) -> Any:
    """One bounded measurement, or None (logged) when it failed: a failed burst leaves a
    dash in the table, not a broken benchmark."""
    started = time.monotonic()
    try:
        return asyncio.run(asyncio.wait_for(work(), timeout))
    except (BenchError, TimeoutError, grpc.RpcError, httpx.HTTPError) as error:
        log.warning("%s: failed, left out: %s", what, error)
        return None
    finally:
        log.debug("%s: %.1f s", what, time.monotonic() - started)
        time.sleep(SETTLE_S)


def measure_streams(endpoints: dict[str, Endpoint], budget: RoundBudget) -> list[Burst]:
    bursts: list[Burst] = []
    deadline = time.monotonic() + HARD_DEADLINE_S
    for r in budget:
        for level_index, n in enumerate(LEVELS):
            offset = r * len(LEVELS) + level_index  # the same prompts for every variant
            for variant in rotated(VARIANTS, r + level_index):
                if time.monotonic() > deadline:
                    log.warning(
                        "streams round %d, N=%d, %s: skipped, past the deadline", r, n, variant
                    )
                    continue
                end = endpoints[variant]
                timings = _attempt(
                    f"streams round {r}, N={n}, {variant}",
                    lambda end=end, n=n, offset=offset: end.streams(n, offset),
                    BURST_TIMEOUT_S,
                )
                if timings is not None:
                    burst = Burst(variant, n, r, tuple(timings))
                    bursts.append(burst)
                    log.info(
                        "streams round %d, N=%d, %s: %.1f tok/s", r, n, variant, burst.aggregate
                    )
    return bursts


def measure_rounds(endpoints: dict[str, Endpoint], budget: RoundBudget) -> list[RoundSample]:
    samples: list[RoundSample] = []
    deadline = time.monotonic() + HARD_DEADLINE_S
    for q in budget:
        for variant in rotated(VARIANTS, q):
            if time.monotonic() > deadline:
                log.warning("rounds question %d, %s: skipped, past the deadline", q, variant)
                continue
            end = endpoints[variant]
            sample = _attempt(
                f"rounds question {q}, {variant}",
                lambda end=end, q=q: end.round(QUESTIONS[q], q),
                ROUND_TIMEOUT_S,
            )
            if sample is not None:
                samples.append(sample)
                log.info(
                    "rounds question %d, %s: %.0f ms, prompt %d, prefilled %d",
                    q,
                    variant,
                    sample.wall_s * 1000,
                    sample.prompt_tokens,
                    sample.prefilled,
                )
    return samples


def warm_up(endpoints: dict[str, Endpoint]) -> None:
    """First requests are slower (page faults, thread pools): not counted."""
    # One short round each: it runs both the prefill and the decode path, with fewer
    # tokens than a burst of 128-token streams.
    for variant, end in endpoints.items():
        _attempt(
            f"warm-up round, {variant}",
            lambda end=end: end.round(WARM_UP_QUESTION, -1),
            ROUND_TIMEOUT_S,
        )


# ---- how each side ran --------------------------------------------------------------------


def agent_side(variant: str, address: str, chat_format: str) -> Side:
    """How the agent says it runs; and a check that llama-server will get the prompts the
    agent renders (the bench chose the chat format the way the agent does)."""
    with grpc.insecure_channel(address) as channel:
        info = agent_pb2_grpc.AgentServiceStub(channel).GetInfo(
            pb.GetInfoRequest(), timeout=CONNECT_TIMEOUT_S
        )
    if info.model.chat_format != chat_format:
        raise BenchError(
            f"the agent serves chat format {info.model.chat_format!r}, the benchmark "
            f"rendered {chat_format!r}: the two servers would not get the same prompts"
        )
    fast = variant == AGENT_FAST
    return Side(
        variant=variant,
        build=f"llama-cpp-python {pinned_version()} wheel (pip, llama.cpp's defaults)",
        weights=f"{info.model.weights or '?'} ({info.model.weights_reason or 'no reason given'})",
        kernels="tiled kernel off, "
        + ("one shared f16 KV pool" if fast else "flash attention, a bf16 KV stream per slot"),
        threads=info.threads,
        slots=info.slots_total,
        context_per_slot=info.context_size,
    )


def resolved_flags(build: LlamaServerBuild) -> str:
    resolved = build.info().get("resolved", {})
    assert isinstance(resolved, dict)
    keys = ("GGML_NATIVE", "GGML_OPENMP", "GGML_LLAMAFILE")
    return ", ".join(f"{k}={resolved.get(k, '?')}" for k in keys)


def server_side(variant: str, server: LlamaCppServerProcess, build: LlamaServerBuild) -> Side:
    try:
        ctx: int | None = server.slot_context()
    except (httpx.HTTPError, ValueError):
        ctx = None
    return Side(
        variant=variant,
        build=f"llama-server from the {build.version} sdist ({resolved_flags(build)})",
        weights="repacked (its default)" if server.mode.repack else "plain (--no-repack)",
        kernels=server.mode.describe(),
        threads=THREADS,
        slots=SLOTS,
        context_per_slot=ctx,
    )


def run(options: Options) -> BenchResult:
    return run_parts(options, PARTS)


def run_parts(options: Options, parts: Sequence[str]) -> BenchResult:
    build = ensure_built(say=log.warning)
    model = model_path()
    stream_budget = RoundBudget(
        options.rounds(STREAM_ROUNDS, QUICK_STREAM_ROUNDS), STREAMS_BUDGET_S
    )
    questions = QUICK_QUESTIONS if options.quick else len(QUESTIONS)
    round_budget = RoundBudget(min(options.repeats or questions, len(QUESTIONS)), ROUNDS_BUDGET_S)
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        logs = Path(tmp)
        settings = agent_settings("bench-agent", slots=SLOTS)
        chat = agent_chat_format(settings)
        agent = AgentProcess(settings, logs)
        fast = AgentProcess(
            agent_settings("bench-agent-fast", slots=SLOTS, batch_invariant=False), logs
        )
        servers = {
            variant: LlamaCppServerProcess(
                variant.replace("_", "-"),
                logs,
                binary=build.binary,
                model=model,
                slots=SLOTS,
                context_per_slot=CONTEXT_SIZE,
                threads=THREADS,
                mode=mode,
            )
            for variant, mode in ((SERVER, DEFAULTS), (SERVER_PLAIN, AGENT_KERNELS))
        }
        with ProcessGroup(agent, fast, *servers.values()):
            endpoints = {
                AGENT: Endpoint(AGENT, agent.wait_ready(), chat.format),
                AGENT_FAST: Endpoint(AGENT_FAST, fast.wait_ready(), chat.format),
                **{v: Endpoint(v, s.wait_ready(), chat.format) for v, s in servers.items()},
            }
            sides = [
                agent_side(AGENT, endpoints[AGENT].url, chat.format.name),
                agent_side(AGENT_FAST, endpoints[AGENT_FAST].url, chat.format.name),
                *(server_side(v, s, build) for v, s in servers.items()),
            ]
            warm_up(endpoints)
            bursts = measure_streams(endpoints, stream_budget) if "streams" in parts else []
            samples = measure_rounds(endpoints, round_budget) if "rounds" in parts else []
    result = summarize(
        parts, bursts, samples, sides, build, stream_budget.completed, round_budget.completed
    )
    result.parameters["chat_format"] = f"{chat.format.name} ({chat.reason})"
    return result


def summarize(
    parts: Sequence[str],
    bursts: Sequence[Burst],
    samples: Sequence[RoundSample],
    sides: Sequence[Side],
    build: LlamaServerBuild,
    stream_rounds: int,
    questions: int,
) -> BenchResult:
    info = build.info()
    # The wheel's line now (it could have been rebuilt since), llama-server's from its build.
    notes = cpu_features_notes(wheel_system_info(), str(info.get("server_system_info", "")))
    tables = [setup_table(sides, notes)]
    if "streams" in parts:
        tables += [
            streams_table(bursts, LEVELS, VARIANTS, stream_rounds),
            ttft_table(bursts, LEVELS, VARIANTS),
        ]
    if "rounds" in parts:
        tables += [
            rounds_table(samples, VARIANTS, len(voices())),
            round_ratio_table(samples, VARIANTS),
        ]
    name = NAME if tuple(parts) == PARTS else f"{NAME}_{'_'.join(parts)}"
    return BenchResult(
        name=name,
        title="Agent service vs llama.cpp's llama-server (issue 20)",
        tables=tuple(tables),
        targets=targets(bursts, samples, LEVELS if "streams" in parts else ()),
        parameters={
            "parts": list(parts),
            "levels": list(LEVELS),
            "max_tokens": MAX_TOKENS,
            "round_max_tokens": ROUND_MAX_TOKENS,
            "threads": THREADS,
            "slots": SLOTS,
            "context_per_slot": CONTEXT_SIZE,
            "temperature": 0.0,
            "stream_rounds": stream_rounds,
            "questions": questions,
            "voices": ",".join(v.name for v in voices()),
            "order": "per level (streams) or question (rounds), variants rotated by round",
            "model": model_path().name,
            "llama_server": str(build.binary),
        },
        measurements={
            "llama_server_build": info,
            "sides": [asdict(s) for s in sides],
            "bursts": [b.as_dict() for b in bursts],
            "rounds": [s.as_dict() for s in samples],
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.vs_llama_server", description=__doc__)
    parser.add_argument("--only", choices=PARTS, help="run one part only")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--out", type=Path, default=Options().out_dir, help="results directory")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    options = Options(quick=args.quick, out_dir=args.out)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the servers we started stop too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    machine = machine_info()
    result = run_parts(options, (args.only,) if args.only else PARTS)
    machine["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    console = Console(width=140)
    report.show(result, console)
    md, _ = report.save(result, machine, options.out_dir)
    console.print(f"saved {md}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
