"""Every benchmark by name. A module is imported only when its benchmark runs, so listing
them (or running one) does not load what the others need.

To add one: write `bench/<name>.py` with `run(options: Options) -> BenchResult`, and add
a line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from bench.result import BenchResult, Options

RunFn = Callable[[Options], BenchResult]


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str
    module: str
    description: str

    def load(self) -> RunFn:
        return importlib.import_module(self.module).run


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "single_stream",
            "bench.single_stream",
            "one 128-token stream: llama-cpp-python vs Conclave's engine vs the gRPC service",
        ),
        Benchmark(
            "concurrency",
            "bench.concurrency",
            "1-8 concurrent streams: agent service vs llama_cpp.server vs N processes; memory",
        ),
        Benchmark("strategies", "bench.strategies", "tokens and wall time per round by strategy"),
        Benchmark(
            "quality",
            "bench.quality",
            "answer accuracy: one voice vs votes, critique, moa, judge; both bundled models",
        ),
        Benchmark(
            "quality_formats",
            "bench.quality_formats",
            "answers under a schema: free text vs constrained vs reason first (default voices)",
        ),
        Benchmark(
            "leader_overhead",
            "bench.leader_overhead",
            "round wall time minus the slowest participant's own generation",
        ),
        Benchmark(
            "constrained",
            "bench.constrained",
            "grammar compile time; 4 concurrent constrained vs unconstrained streams (tok/s)",
        ),
        Benchmark(
            "soak",
            "bench.soak",
            "32 streaming clients for 2 min on two agents sharing one host: cut streams, "
            "5xx, refusals, tok/s per agent, RSS growth",
        ),
        Benchmark(
            "vs_llama_server",
            "bench.vs_llama_server",
            "agent vs llama.cpp's C++ llama-server (built once, cached): 1/4/8 streams, and "
            "rounds of 3 voices + a critique turn (wall time, prompt tokens prefilled)",
        ),
        Benchmark(
            "gateway_latency",
            "bench.gateway_latency",
            "gateway path vs leader direct (added latency); requests/s with 32 clients",
        ),
        Benchmark(
            "early_answers",
            "bench.early_answers",
            "a settled vote's answer at the client: early answers vs waiting for every voice",
        ),
        Benchmark(
            "kv_cache",
            "bench.kv_cache",
            "greedy answers and time on the quality items: BF16 (default) vs F16 KV cache",
        ),
    )
}
