"""Issue 3: N concurrent 128-token generations (N = 1, 2, 4, 8), four ways.

(a)  Conclave's agent service, 8 slots, batch-invariant (the default);
(a') the same in fast mode (CONCLAVE_AGENT_BATCH_INVARIANT=false);
(b)  llama-cpp-python's `llama_cpp.server` (interrupt_requests off), over its OpenAI API;
(c)  N separate processes, each with its own copy of the model.

The three servers load together, then idle while another variant runs. A round measures
every level; within a level the variants run one at a time, in a rotated order (see
bench/order.py), and so does llama.cpp alone decoding N rows per call in a process of its
own (bench/kernel_worker.py): the ceiling any batching server could reach beside them.
Rounds repeat while the time budget allows. Then resident memory of the agent service
with 1 and with 4 slots, after a short generation on every slot at once.

Every wait is bounded: a burst that fails or times out is logged and left out (its cell
shows a dash), and once the hard deadline has passed the remaining bursts are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
import httpx

from bench.agent_server import AgentProcess, agent_settings
from bench.clients import grpc_stream_async, openai_stream
from bench.concurrency_report import LABELS, Burst, Memory, summarize
from bench.kernel import KernelProcess, KernelSample
from bench.llama_server import LlamaServerProcess
from bench.order import RoundBudget, rotated
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.separate import run_separate
from bench.stats import median
from bench.timing import StreamTiming
from bench.workload import (
    CONTEXT_SIZE,
    MAX_TOKENS,
    THREADS,
    BenchError,
    model_path,
    prompt_for,
)
from conclave.v1 import agent_pb2_grpc

LEVELS = (1, 2, 4, 8)
REPEATS = 2
QUICK_REPEATS = 1
# The throughput rounds stop early when the machine is too slow to fit another in this;
# past the hard deadline even round 0 skips its remaining bursts.
BUDGET_S = 500.0
HARD_DEADLINE_S = 700.0
BURST_TIMEOUT_S = 150.0  # 8 streams of 128 tokens, served one after another, on a slow day
AGENT_SLOTS = 8
MEMORY_SLOTS = (1, 4)
MEMORY_WARMUP_TOKENS = 16
# Separate processes oversubscribe the cores badly; a worker stops at this deadline and
# its window counts the tokens it reached (the table says so). Keeps the bench bounded.
SEPARATE_DEADLINE_S = 30.0
QUICK_SEPARATE_DEADLINE_S = 15.0
SETTLE_S = 0.5  # lets the last variant's llama.cpp threads stop spinning
CONNECT_TIMEOUT_S = 30.0
VARIANTS = tuple(LABELS)
RAW = "raw"  # llama.cpp alone (bench/kernel_worker.py), in the rotation with the variants
ROTATION = (*VARIANTS, RAW)

log = logging.getLogger(__name__)

BurstFn = Callable[[int, int], Burst]


async def agent_burst(
    address: str, n: int, offset: int, max_tokens: int = MAX_TOKENS
) -> list[StreamTiming]:
    async with grpc.aio.insecure_channel(address) as channel:
        # Connect first: channel set-up is not part of the generations' time.
        await asyncio.wait_for(channel.channel_ready(), CONNECT_TIMEOUT_S)
        stub = agent_pb2_grpc.AgentServiceStub(channel)
        streams = (grpc_stream_async(stub, prompt_for(offset + i), max_tokens) for i in range(n))
        return list(await asyncio.wait_for(asyncio.gather(*streams), BURST_TIMEOUT_S))


async def openai_burst(base_url: str, n: int, offset: int) -> list[StreamTiming]:
    async with httpx.AsyncClient() as client:
        streams = (openai_stream(client, base_url, prompt_for(offset + i)) for i in range(n))
        return list(await asyncio.wait_for(asyncio.gather(*streams), BURST_TIMEOUT_S))


class Measurer:
    """Runs one burst of any variant against servers that are already up."""

    def __init__(
        self,
        agent: str,
        agent_fast: str,
        llama_url: str,
        kernel: KernelProcess,
        logs: Path,
        deadline_s: float,
    ) -> None:
        self._runs: dict[str, BurstFn] = {
            "a": self._streams("a", lambda n, off: agent_burst(agent, n, off)),
            "a_fast": self._streams("a_fast", lambda n, off: agent_burst(agent_fast, n, off)),
            "b": self._streams("b", lambda n, off: openai_burst(llama_url, n, off)),
            "c": self._separate,
        }
        self._kernel = kernel
        self._logs = logs
        self._deadline_s = deadline_s
        self._hard_deadline = time.monotonic() + HARD_DEADLINE_S
        self.round = -1  # warm-up
        self.rss_per_process: list[int] = []

    def _streams(
        self, variant: str, burst: Callable[[int, int], Coroutine[Any, Any, list[StreamTiming]]]
    ) -> BurstFn:
        def run(n: int, offset: int) -> Burst:
            return Burst(variant, n, self.round, tuple(asyncio.run(burst(n, offset))))

        return run

    def _separate(self, n: int, offset: int) -> Burst:
        run = run_separate(n, model_path(), self._logs, offset=offset, deadline_s=self._deadline_s)
        self.rss_per_process.extend(run.rss_bytes)
        return Burst("c", n, self.round, run.timings, cut_short=run.cut_short)

    def raw(self, n: int) -> KernelSample | None:
        """llama.cpp's own rate at N rows per call, or None when the worker failed."""
        try:
            tps = self._kernel.rate(n)
        except BenchError as error:
            log.warning(
                "round %d, N=%d, llama.cpp alone: failed, left out: %s", self.round, n, error
            )
            return None
        finally:
            time.sleep(SETTLE_S)
        log.info("round %d, N=%d, llama.cpp alone: %.1f tok/s", self.round, n, tps)
        return KernelSample(self.round, n, tps)

    def __call__(self, variant: str, n: int, offset: int) -> Burst | None:
        """One burst, or None when it failed or there is no time left for it."""
        stage = f"round {self.round}" if self.round >= 0 else "warm-up"
        what = f"{stage}, N={n}, {LABELS[variant]}"
        started = time.monotonic()
        if started > self._hard_deadline:
            log.warning("%s: skipped, past the %.0f s deadline", what, HARD_DEADLINE_S)
            return None
        try:
            burst = self._runs[variant](n, offset)
        except (BenchError, TimeoutError, grpc.RpcError, httpx.HTTPError) as error:
            log.warning("%s: failed, left out: %s", what, error)
            return None
        finally:
            time.sleep(SETTLE_S)
        log.info(
            "%s: %.1f tok/s (%.0f s)%s",
            what,
            burst.aggregate,
            time.monotonic() - started - SETTLE_S,
            ", cut short" if burst.cut_short else "",
        )
        return burst


def measure_throughput(
    logs: Path, budget: RoundBudget, deadline_s: float
) -> tuple[list[Burst], list[KernelSample], dict[str, int], int | None]:
    """The bursts, llama.cpp's own rates beside them, the servers' RSS after them, and the
    median RSS of one (c) worker."""
    agent = AgentProcess(agent_settings("bench-a", slots=AGENT_SLOTS), logs)
    fast = AgentProcess(
        agent_settings("bench-a-fast", slots=AGENT_SLOTS, batch_invariant=False), logs
    )
    server = LlamaServerProcess("llama-cpp-server", logs, model=model_path())
    kernel = KernelProcess("llama-cpp-alone", logs, sequences=max(LEVELS))
    with ProcessGroup(agent, fast, server, kernel):
        urls = agent.wait_ready(), fast.wait_ready(), server.wait_ready()
        kernel.wait_ready()
        measure = Measurer(*urls, kernel, logs, deadline_s)
        for variant, n in (("a", 2), ("a_fast", 2), ("b", 1)):  # warm-up, not counted
            measure(variant, n, 0)
        bursts: list[Burst] = []
        kernels: list[KernelSample] = []
        for r in budget:
            measure.round = r
            for level_index, n in enumerate(LEVELS):
                offset = r * len(LEVELS) + level_index  # the same prompts for every variant
                # Each round moves every variant one place on, at every level.
                for variant in rotated(ROTATION, r + level_index):
                    if variant == RAW:
                        sample = measure.raw(n)
                        if sample is not None:
                            kernels.append(sample)
                    elif (burst := measure(variant, n, offset)) is not None:
                        bursts.append(burst)
        rss = {
            "agent": agent.rss_bytes(),
            "agent_fast": fast.rss_bytes(),
            "llama_server": server.rss_bytes(),
        }
    per_process = median(measure.rss_per_process)
    return bursts, kernels, rss, None if per_process is None else int(per_process)


def measure_memory(logs: Path) -> dict[int, int | None]:
    """RSS by slots; None where the warm-up generation failed (the throughput results
    are worth keeping all the same)."""
    agents = {
        k: AgentProcess(agent_settings(f"bench-mem-{k}", slots=k), logs) for k in MEMORY_SLOTS
    }
    rss: dict[int, int | None] = {}
    with ProcessGroup(*agents.values()):
        addresses = {k: agent.wait_ready() for k, agent in agents.items()}
        for k, agent in agents.items():  # one at a time: a generation on every slot
            try:
                # Every buffer exists once each slot has decoded: short generations will do.
                asyncio.run(agent_burst(addresses[k], k, 0, MEMORY_WARMUP_TOKENS))
            except (BenchError, TimeoutError, grpc.RpcError) as error:
                log.warning("memory, %d slots: warm-up failed (%s); RSS not measured", k, error)
                rss[k] = None
                continue
            time.sleep(SETTLE_S)
            rss[k] = agent.rss_bytes()
    return rss


def run(options: Options) -> BenchResult:
    budget = RoundBudget(options.rounds(REPEATS, QUICK_REPEATS), BUDGET_S)
    deadline_s = QUICK_SEPARATE_DEADLINE_S if options.quick else SEPARATE_DEADLINE_S
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        logs = Path(tmp)
        bursts, kernels, rss, per_process = measure_throughput(logs, budget, deadline_s)
        by_slots = measure_memory(logs)
    repeats = budget.completed
    memory = Memory(
        by_slots=by_slots,
        agent=rss["agent"],
        agent_fast=rss["agent_fast"],
        llama_server=rss["llama_server"],
        per_process=per_process,
    )
    return summarize(
        bursts,
        kernels,
        memory,
        levels=LEVELS,
        repeats=repeats,
        deadline_s=deadline_s,
        agent_slots=AGENT_SLOTS,
        parameters={
            "levels": list(LEVELS),
            "max_tokens": MAX_TOKENS,
            "threads": THREADS,
            "context_size": CONTEXT_SIZE,
            "agent_slots": AGENT_SLOTS,
            "memory_slots": list(MEMORY_SLOTS),
            "memory_warmup_tokens": MEMORY_WARMUP_TOKENS,
            "repeats": repeats,
            "repeats_asked": budget.rounds,
            "budget_s": BUDGET_S,
            "order": f"rounds of levels 1,2,4,8; per level {','.join(ROTATION)}, "
            "rotated by round + level",
            "separate_deadline_s": deadline_s,
            "temperature": 0.0,
            "model": model_path().name,
        },
    )
