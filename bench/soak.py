"""Soak: many streaming clients for minutes on two agents that share one host.

Two agent services (each with its share of the cores, as `conclave up` gives it), a
leader and a gateway, all real processes; `clients` streaming chat clients (half on each
agent's voice) send requests back to back for `seconds`, honouring Retry-After. Issue 15
asks: no stream cut short, no 5xx, every refusal a prompt 429 with Retry-After (nobody
waits out a timeout), both agents' tok/s within 2x of each other, RSS growth <= 5 % per
process (from the end of a warm-up under the same load to the end).

Size: CONCLAVE_BENCH_SOAK_SECONDS (default 120; --quick 20) and CONCLAVE_BENCH_SOAK_CLIENTS
(default 32; --quick 8), so a short run is possible. CONCLAVE_BENCH_SOAK_TIMEOUT_S (default
30) is each request's `participant_timeout_s`: short enough that a full queue is more
than a voice can finish in time, so admission control must refuse (a prompt 429) rather
than let a client wait out its timeout (which would end as a 503, counted as a 5xx).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc
import httpx

from bench.agent_server import AgentProcess, agent_settings
from bench.procs import ManagedProcess, ProcessGroup
from bench.result import BenchResult, Options
from bench.stats import Target
from bench.swarm_procs import GatewayProcess, LeaderProcess
from bench.table import Table, cell
from bench.workload import BenchError
from conclave.services.hardware import detect_hardware
from conclave.services.recommend import threads_per_agent
from conclave.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

AGENTS = ("soak-a", "soak-b")
SLOTS = 4
MAX_TOKENS = 64
REQUEST_TIMEOUT_S = 300.0  # a client's bound; a stream that needs it is a failure anyway
PROMPTS = (
    "Tell me about the sea.",
    "Write a short poem about autumn.",
    "Explain how bread rises.",
    "Describe a busy market.",
    "What makes a good friend?",
    "Tell a story about a lost key.",
    "Describe the moon to a child.",
    "Why do leaves change colour?",
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request as its client saw it."""

    client: int
    status: int  # HTTP status; 0: the connection failed
    seconds: float  # until the body ended (a refusal: until its status arrived)
    retry_after: str | None = None
    finished: bool = False  # a 200 stream with a finish_reason and data: [DONE]
    in_band_error: bool = False


def _size(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BenchError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise BenchError(f"{name}={raw!r} must be at least 1")
    return value


def _stream_once(
    http: httpx.Client, url: str, model: str, client: int, k: int, timeout_s: int
) -> Outcome:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": PROMPTS[(client + k) % len(PROMPTS)]}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.7,
        "seed": client * 1000 + k,
        "stream": True,
        "conclave": {"participant_timeout_s": timeout_s},
    }
    start = time.monotonic()
    try:
        with http.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                response.read()
                return Outcome(
                    client,
                    response.status_code,
                    time.monotonic() - start,
                    retry_after=response.headers.get("retry-after"),
                )
            finished = done = error = False
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line.removeprefix("data: ")
                if data == "[DONE]":
                    done = True
                    continue
                chunk = json.loads(data)
                if "error" in chunk:
                    error = True
                for choice in chunk.get("choices", ()):
                    finished = finished or bool(choice.get("finish_reason"))
            return Outcome(
                client,
                200,
                time.monotonic() - start,
                finished=finished and done and not error,
                in_band_error=error,
            )
    except httpx.HTTPError as exc:
        log.warning("client %d: %s", client, exc)
        return Outcome(client, 0, time.monotonic() - start)


def _tokens(address: str) -> tuple[int, int]:
    """(tokens generated since start, decode threads) of one agent, from its GetInfo."""
    with grpc.insecure_channel(address) as channel:
        info = agent_pb2_grpc.AgentServiceStub(channel).GetInfo(
            agent_pb2.GetInfoRequest(), timeout=10
        )
    return info.tokens_generated_total, info.threads


def _rss(procs: list[ManagedProcess]) -> dict[str, int]:
    return {p.name: p.rss_bytes() for p in procs}


def _load(
    url: str,
    models: list[str],
    clients: int,
    seconds: float,
    warmup_s: float,
    timeout_s: int,
    probe,
):
    """Runs the clients; calls probe("start") after the warm-up and probe("end") when the
    window closes. Returns every request's outcome."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    begin = time.monotonic()
    stop_at = begin + seconds

    def client(i: int) -> None:
        model = models[i % len(models)]
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            k = 0
            while time.monotonic() < stop_at:
                got = _stream_once(http, url, model, i, k, timeout_s)
                k += 1
                with lock:
                    outcomes.append(got)
                if got.status == 429:  # a good client waits as told (bounded by the window)
                    wait = float(got.retry_after or 1)
                    time.sleep(max(0.0, min(wait, stop_at - time.monotonic())))

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, i) for i in range(clients)]
        time.sleep(warmup_s)
        probe("start")
        time.sleep(max(0.0, stop_at - time.monotonic()))
        probe("end")
        for future in futures:
            future.result()
    return outcomes


def run(options: Options) -> BenchResult:
    seconds = _size("CONCLAVE_BENCH_SOAK_SECONDS", 20 if options.quick else 120)
    clients = _size("CONCLAVE_BENCH_SOAK_CLIENTS", 8 if options.quick else 32)
    timeout_s = _size("CONCLAVE_BENCH_SOAK_TIMEOUT_S", 30)
    warmup_s = min(15.0, seconds * 0.2)
    hardware = detect_hardware()
    threads = threads_per_agent(hardware, len(AGENTS))
    with tempfile.TemporaryDirectory(prefix="conclave-soak-") as tmp:
        logs = Path(tmp)
        agents = [
            AgentProcess(
                agent_settings(name, slots=SLOTS).model_copy(update={"threads": threads}), logs
            )
            for name in AGENTS
        ]
        with ProcessGroup(*agents):
            addresses = [a.wait_ready() for a in agents]
            leader = LeaderProcess(addresses, logs / "rounds.db", logs, voices=1)
            with ProcessGroup(leader):
                gateway = GatewayProcess(leader.wait_ready(), logs)
                with ProcessGroup(gateway):
                    url = gateway.wait_ready()
                    cards = httpx.get(f"{url}/v1/models", timeout=10).json()["data"]
                    models = sorted(c["id"] for c in cards if c["id"].startswith("agent/"))
                    if len(models) != len(AGENTS):
                        raise BenchError(f"expected one voice per agent, got {models}")
                    procs: list[ManagedProcess] = [*agents, leader, gateway]
                    idle_rss = _rss(procs)
                    marks: dict[str, dict] = {}

                    def probe(when: str) -> None:
                        marks[when] = {
                            "t": time.monotonic(),
                            "rss": _rss(procs),
                            "tokens": {a.name: _tokens(a.address)[0] for a in agents},
                        }

                    log.info(
                        "soak: %d clients for %d s on %s (%d threads each)",
                        clients,
                        seconds,
                        ", ".join(models),
                        threads,
                    )
                    outcomes = _load(url, models, clients, seconds, warmup_s, timeout_s, probe)
                    reported_threads = {a.name: _tokens(a.address)[1] for a in agents}
                    final_rss = _rss(procs)
                    rounds_stored = httpx.get(
                        f"{url}/v1/rounds", params={"limit": 100}, timeout=10
                    ).json()
                    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    return _result(
        seconds=seconds,
        clients=clients,
        timeout_s=timeout_s,
        warmup_s=warmup_s,
        threads=threads,
        reported_threads=reported_threads,
        outcomes=outcomes,
        marks=marks,
        idle_rss=idle_rss,
        final_rss=final_rss,
        refused_metric=_metric_sum(metrics, "conclave_gateway_refused_total"),
        stored_statuses=sorted({r["status"] for r in rounds_stored["data"]}),
    )


def _metric_sum(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def _result(
    *,
    seconds: int,
    clients: int,
    timeout_s: int,
    warmup_s: float,
    threads: int,
    reported_threads: dict[str, int],
    outcomes: list[Outcome],
    marks: dict[str, dict],
    idle_rss: dict[str, int],
    final_rss: dict[str, int],
    refused_metric: float,
    stored_statuses: list[str],
) -> BenchResult:
    served = [o for o in outcomes if o.status == 200]
    truncated = [o for o in served if not o.finished]
    server_errors = [o for o in outcomes if o.status >= 500 or o.status == 0]
    refusals = [o for o in outcomes if o.status == 429]
    without_hint = [o for o in refusals if not o.retry_after]
    other = [o for o in outcomes if o.status not in (0, 200, 429) and o.status < 500]
    window = marks["end"]["t"] - marks["start"]["t"]
    rates = {
        name: (marks["end"]["tokens"][name] - marks["start"]["tokens"][name]) / window
        for name in AGENTS
    }
    slowest, fastest = min(rates.values()), max(rates.values())
    ratio = fastest / slowest if slowest > 0 else None
    growth = {
        name: 100.0 * (final_rss[name] - marks["start"]["rss"][name]) / marks["start"]["rss"][name]
        for name in final_rss
    }
    refusal_s = [o.seconds for o in refusals]
    latency = sorted(o.seconds for o in served)

    outcome_table = Table(
        title=f"Soak: {clients} streaming clients for {seconds} s, two agents on one host",
        columns=("measure", "value"),
        rows=(
            ("requests", cell(len(outcomes))),
            ("streams answered (200)", cell(len(served))),
            (
                "  of them truncated (no finish_reason + [DONE], or an in-band error)",
                cell(len(truncated)),
            ),
            ("5xx or failed connections", cell(len(server_errors))),
            ("refusals (429)", cell(len(refusals))),
            ("  of them without Retry-After", cell(len(without_hint))),
            ("  time to refusal, median / max s", _pair(refusal_s)),
            (
                "  counted by the gateway (conclave_gateway_refused_total)",
                cell(int(refused_metric)),
            ),
            ("other 4xx", cell(len(other))),
            ("stream time, median / p95 s", _median_p95(latency)),
            ("statuses among the last 100 stored rounds", ", ".join(stored_statuses) or "—"),
        ),
        notes=(
            f"Each request: one voice (agent/<name>), {MAX_TOKENS} tokens at temperature 0.7, "
            f"participant_timeout_s {timeout_s}; clients alternate between the two agents' "
            "voices and wait out Retry-After.",
        ),
    )
    agent_table = Table(
        title="Fair sharing: decode throughput per agent over the measured window",
        columns=("agent", "threads", "tok/s"),
        rows=(
            *((name, cell(reported_threads[name]), cell(rates[name], 1)) for name in AGENTS),
            ("fastest / slowest", "", cell(ratio, 2)),
        ),
        notes=(f"Threads: the physical cores split between the agents ({threads} each).",),
    )
    memory_table = Table(
        title=f"Memory: RSS per process (MiB); growth from the end of a {warmup_s:.0f} s "
        "warm-up under load to the end",
        columns=("process", "idle", "after warm-up", "end", "growth %"),
        rows=tuple(
            (
                name,
                cell(idle_rss[name] / 2**20, 1),
                cell(marks["start"]["rss"][name] / 2**20, 1),
                cell(final_rss[name] / 2**20, 1),
                cell(growth[name], 2),
            )
            for name in final_rss
        ),
    )
    return BenchResult(
        name="soak",
        title="Soak: streaming clients on two agents sharing one host",
        tables=(outcome_table, agent_table, memory_table),
        targets=(
            Target("truncated streams", "<=", 0, len(truncated)),
            Target("5xx or failed connections", "<=", 0, len(server_errors)),
            Target("refusals without Retry-After", "<=", 0, len(without_hint)),
            Target(
                "slowest refusal (prompt, not a timeout)",
                "<=",
                5.0,
                max(refusal_s) if refusal_s else None,  # none refused: not measured
                "s",
            ),
            Target("agents' tok/s, fastest / slowest", "<=", 2.0, ratio),
            Target("largest RSS growth of a process", "<=", 5.0, max(growth.values()), "%"),
        ),
        parameters={
            "seconds": seconds,
            "clients": clients,
            "participant_timeout_s": timeout_s,
            "threads_per_agent": threads,
            "slots_per_agent": SLOTS,
            "max_tokens": MAX_TOKENS,
        },
        measurements={
            "outcomes": [asdict(o) for o in outcomes],
            "tokens_per_second": rates,
            "rss_bytes": {
                "idle": idle_rss,
                "after_warmup": marks["start"]["rss"],
                "end": final_rss,
            },
            "window_s": window,
        },
    )


def _pair(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def _median_p95(ordered: list[float]) -> str:
    if not ordered:
        return "—"
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(ordered):.2f} / {p95:.2f}"
