"""The gateway path against calling the leader directly, and requests/s with 32 clients.

Added latency: the same one-voice round (`agent/<name>`, 8 greedy tokens) asked through
the gateway (HTTP, OpenAI shape) and straight from the leader (gRPC RunRound),
alternating, paired per round; the median of the differences. Target (issue 6): ≤ 10 ms.
Throughput: 32 clients, each sending requests back to back through the gateway for a
fixed window; completed requests per second.
Dashboard cost (issue 18): a second gateway over the same leader, built without the
dashboard (`ui: false`), asked the same things in the same run, paired and alternating
with the first; the median of (with dashboard − without). Target: ≤ 1 ms. A model's
round varies by far more than a millisecond, so the figure the target reads comes from
completions the leader refuses at once (an unknown participant): the gateway's whole
path — parsing, checks, admission, the leader call, the error table — without the
model's time. The full rounds are shown beside it.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx

from bench.agent_server import AgentProcess, agent_settings
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.stats import Target
from bench.swarm_procs import GatewayProcess, LeaderProcess
from bench.table import Table, cell
from conclave.v1 import agent_pb2, leader_pb2, leader_pb2_grpc

PARTICIPANT = "bench-agent"
TOKENS = 1  # the path is measured, not the model: one token keeps generation small
CLIENTS = 32


def via_leader(stub: leader_pb2_grpc.LeaderServiceStub, prompt: str) -> float:
    request = leader_pb2.RunRoundRequest(
        messages=[agent_pb2.ChatMessage(role="user", content=prompt)],
        participants=[PARTICIPANT],
        max_tokens=TOKENS,
        temperature=0.0,
    )
    start = time.perf_counter()
    events = list(stub.RunRound(request, timeout=120))
    elapsed = (time.perf_counter() - start) * 1000
    assert events[-1].HasField("decided")
    return elapsed


def via_gateway(client: httpx.Client, url: str, prompt: str) -> float:
    start = time.perf_counter()
    response = client.post(
        f"{url}/v1/chat/completions",
        json={
            "model": f"agent/{PARTICIPANT}",
            "max_tokens": TOKENS,
            "temperature": 0,
            "messages": [{"role": "user", "content": prompt}],
        },
        timeout=120,
    )
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    return elapsed


def refused_at_leader(client: httpx.Client, url: str) -> float:
    """A completion the leader refuses (no such participant): a real round trip through
    the gateway and the leader, no generation."""
    start = time.perf_counter()
    response = client.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "agent/no-such-voice",
            "max_tokens": TOKENS,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        timeout=120,
    )
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 404:
        raise AssertionError(f"expected the leader's 404, got {response.status_code}")
    return elapsed


def throughput(url: str, window_s: float) -> dict[str, float]:
    done = 0
    refused = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + window_s

    def client(i: int) -> None:
        nonlocal done, refused
        with httpx.Client() as http:
            while time.monotonic() < stop_at:
                response = http.post(
                    f"{url}/v1/chat/completions",
                    json={
                        "model": f"agent/{PARTICIPANT}",
                        "max_tokens": 4,
                        "temperature": 0,
                        "messages": [{"role": "user", "content": f"Hi {i}"}],
                    },
                    timeout=300,
                )
                with lock:
                    if response.status_code == 200:
                        done += 1
                    else:
                        refused += 1

    start = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    wall = time.monotonic() - start
    return {"completed": done, "refused": refused, "wall_s": wall, "rps": done / wall}


def run(options: Options) -> BenchResult:
    rounds = options.rounds(default=20, quick=4)
    refusals = 400 if not options.quick else 100
    window = 10.0 if options.quick else 30.0
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        logs = Path(tmp)
        settings = agent_settings(PARTICIPANT, slots=4).model_copy(update={"queue_limit": 64})
        agent = AgentProcess(settings, logs)
        with ProcessGroup(agent):
            agent.wait_ready()
            leader = LeaderProcess([agent.address], logs / "rounds.db", logs, voices=1)
            with ProcessGroup(leader):
                leader_address = leader.wait_ready()
                gateway = GatewayProcess(leader_address, logs)
                bare = GatewayProcess(leader_address, logs, ui=False)
                with (
                    ProcessGroup(gateway, bare),
                    grpc.insecure_channel(leader_address) as ch,
                    httpx.Client() as http,
                ):
                    url = gateway.wait_ready()
                    bare_url = bare.wait_ready()
                    stub = leader_pb2_grpc.LeaderServiceStub(ch)
                    via_leader(stub, "warm up")
                    via_gateway(http, url, "warm up")
                    via_gateway(http, bare_url, "warm up")
                    pairs = []
                    for i in range(rounds):
                        prompt = f"Say the number {i}."
                        # Rotate which path goes first, so drift hits all alike.
                        paths = [
                            ("d", lambda p: via_leader(stub, p)),
                            ("g", lambda p: via_gateway(http, url, p)),
                            ("b", lambda p: via_gateway(http, bare_url, p)),
                        ]
                        shift = i % len(paths)
                        took = {k: f(prompt) for k, f in paths[shift:] + paths[:shift]}
                        d, g, b = took["d"], took["g"], took["b"]
                        pairs.append(
                            {
                                "leader_ms": d,
                                "gateway_ms": g,
                                "added_ms": g - d,
                                "no_ui_ms": b,
                                "ui_added_ms": g - b,
                            }
                        )
                    quick_pairs = []
                    for i in range(refusals):
                        first, second = (url, bare_url) if i % 2 else (bare_url, url)
                        a = refused_at_leader(http, first)
                        b = refused_at_leader(http, second)
                        ui_ms, bare_ms = (a, b) if first == url else (b, a)
                        quick_pairs.append(
                            {"ui_ms": ui_ms, "no_ui_ms": bare_ms, "ui_added_ms": ui_ms - bare_ms}
                        )
                    load = throughput(url, window)

    added = statistics.median(p["added_ms"] for p in pairs)
    ui_added = statistics.median(p["ui_added_ms"] for p in quick_pairs)
    table = Table(
        title=f"Gateway path vs leader direct: {rounds} paired rounds, {TOKENS} tokens",
        columns=("measure", "median ms", "range ms"),
        rows=tuple(
            (
                label,
                cell(statistics.median(p[k] for p in pairs), 1),
                f"{min(p[k] for p in pairs):.1f} – {max(p[k] for p in pairs):.1f}",
            )
            for label, k in (
                ("leader direct (gRPC RunRound)", "leader_ms"),
                ("through the gateway (HTTP)", "gateway_ms"),
                ("added by the gateway (paired)", "added_ms"),
                ("through a gateway without the dashboard", "no_ui_ms"),
                ("added by the dashboard code (paired)", "ui_added_ms"),
            )
        ),
        notes=(
            "Same prompt, greedy, back to back; the order rotates every round.",
            "The dashboard row: the gateway as shipped (ui on, no page open) minus the same "
            "gateway built without the dashboard router, both over the same leader.",
        ),
    )
    ui_table = Table(
        title=f"The dashboard on a completion's path: {refusals} paired completions the "
        "leader refuses at once",
        columns=("measure", "median ms", "p10 – p90 ms"),
        rows=tuple(
            (
                label,
                cell(statistics.median(p[k] for p in quick_pairs), 3),
                "{:.2f} – {:.2f}".format(*_deciles([p[k] for p in quick_pairs])),
            )
            for label, k in (
                ("gateway with the dashboard (as shipped)", "ui_ms"),
                ("gateway without it (--no-ui)", "no_ui_ms"),
                ("added by the dashboard code (paired)", "ui_added_ms"),
            )
        ),
        notes=(
            "model agent/no-such-voice: parsed, checked, admitted, sent to the leader, "
            "refused there (404) and mapped back; both gateways over the same leader, "
            "alternating which goes first. No page is open.",
        ),
    )
    load_table = Table(
        title=f"Requests/s through the gateway, {CLIENTS} clients, {window:.0f} s",
        columns=("completed", "refused (429)", "wall s", "requests/s"),
        rows=(
            (
                cell(int(load["completed"])),
                cell(int(load["refused"])),
                cell(load["wall_s"], 1),
                cell(load["rps"], 2),
            ),
        ),
        notes=(
            "Each request: one participant, 4 tokens; one agent service with 4 slots "
            "on 2 cores, so the model bounds the rate, not the gateway.",
        ),
    )
    return BenchResult(
        name="gateway_latency",
        title="Gateway latency and throughput",
        tables=(table, ui_table, load_table),
        targets=(
            Target("gateway added latency (median)", "<=", 10.0, added, "ms"),
            Target("dashboard added latency (median)", "<=", 1.0, ui_added, "ms"),
        ),
        parameters={
            "rounds": rounds,
            "refusals": refusals,
            "tokens": TOKENS,
            "clients": CLIENTS,
            "window_s": window,
        },
        measurements={"pairs": pairs, "refusal_pairs": quick_pairs, "load": load},
    )


def _deciles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=10)
    return cuts[0], cuts[-1]
