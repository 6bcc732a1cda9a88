"""Early answers: how soon a `vote` whose outcome is settled reaches the client.

Three voices on one agent (4 slots), greedy: two may say 8 tokens, the third 128 of a
count that does not end (its own max_tokens, from the leader's config file). The two
short ones agree the moment they finish; the third could not change a majority any more.

Each round asks the same kind of question four ways, the order rotating every round:
the OpenAI door (openai SDK, streaming, `conclave-vote`) and the leader's gRPC RunRound,
each with early answers (`early_stop` true, the default: the straggler is stopped and the
decided answer sent at once) and waiting for every voice (`early_stop` false: the
straggler runs to its end, as every round did before early stops). Measured at the
client: the time to the decided answer (the OpenAI stream's finish chunk; the leader's
decided event). Every round asks the one prompt whose greedy continuation is known to
run on (a count to 300): the straggler's full length is checked in every waiting round,
and any prompt cache of the agent serves every variant alike after the warm-up.

Also shown: at the leader stream, the time from the second agreeing candidate (the
moment the outcome is settled) to the decided event — what the decision still waits
for — and that each early round's stored record is whole (decided, the straggler
recorded as cancelled).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

import grpc
import httpx
import yaml
from openai import OpenAI

from bench.agent_server import AgentProcess, agent_settings
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.stats import spread
from bench.swarm_procs import GatewayProcess, LeaderProcess
from bench.table import Table, cell
from conclave.v1 import agent_pb2, leader_pb2, leader_pb2_grpc

log = logging.getLogger(__name__)

QUICK_TOKENS = 8
SLOW_TOKENS = 128  # the workload's usual stream length (bench/workload.py)
VOICES = ("quick-1", "quick-2", "straggler")
VARIANTS = (
    ("openai", True),
    ("openai", False),
    ("leader", True),
    ("leader", False),
)


# The bundled model continues this count greedily well past 128 tokens (checked: the
# waiting variant's straggler must end by length). Counts from other numbers may end early.
PROMPT = "Count from 1 to 300: 1, 2, 3, 4, 5,"


def leader_config(path: Path, agent: str) -> Path:
    quick = [{"name": name, "address": agent, "max_tokens": QUICK_TOKENS} for name in VOICES[:2]]
    slow = {"name": VOICES[2], "address": agent, "max_tokens": SLOW_TOKENS}
    path.write_text(yaml.safe_dump({"participants": [*quick, slow]}))
    return path


def via_openai(client: OpenAI, prompt: str, early: bool) -> dict[str, object]:
    start = time.perf_counter()
    stream = client.chat.completions.create(
        model="conclave-vote",
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        stream=True,
        extra_body={
            "conclave": {"participants": list(VOICES), "params": {"early_stop": str(early).lower()}}
        },
    )
    answer_ms = None
    round_id = ""
    text = ""
    for chunk in stream:
        round_id = round_id or chunk.id.removeprefix("chatcmpl-")
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        if chunk.choices and chunk.choices[0].finish_reason and answer_ms is None:
            answer_ms = (time.perf_counter() - start) * 1000
    end_ms = (time.perf_counter() - start) * 1000
    if answer_ms is None or not text:
        raise AssertionError(f"round {round_id}: the stream ended without an answer")
    return {"answer_ms": answer_ms, "end_ms": end_ms, "round_id": round_id, "settled_gap_ms": None}


def via_leader(
    stub: leader_pb2_grpc.LeaderServiceStub, prompt: str, early: bool
) -> dict[str, object]:
    request = leader_pb2.RunRoundRequest(
        messages=[agent_pb2.ChatMessage(role="user", content=prompt)],
        participants=list(VOICES),
        temperature=0.0,
        params={"early_stop": str(early).lower()},
    )
    start = time.perf_counter()
    agreeing_ms: list[float] = []
    answer_ms = None
    round_id = ""
    for event in stub.RunRound(request, timeout=600):
        now = (time.perf_counter() - start) * 1000
        if event.HasField("started"):
            round_id = event.started.round_id
        elif event.HasField("candidate"):
            if event.candidate.candidate.participant in VOICES[:2]:
                agreeing_ms.append(now)
        elif event.HasField("decided"):
            answer_ms = now
    end_ms = (time.perf_counter() - start) * 1000
    if answer_ms is None:
        raise AssertionError(f"round {round_id}: no decided event")
    settled = max(agreeing_ms) if agreeing_ms else None
    gap = answer_ms - settled if early and settled is not None else None
    return {"answer_ms": answer_ms, "end_ms": end_ms, "round_id": round_id, "settled_gap_ms": gap}


def stored_whole(stub: leader_pb2_grpc.LeaderServiceStub, round_id: str, early: bool) -> bool:
    """The stored round: decided, every voice there; the straggler stopped (early) or
    answered to its end (waiting)."""
    stored = stub.GetRound(leader_pb2.GetRoundRequest(id=round_id), timeout=30)
    reasons = {c.participant: c.finish_reason for c in stored.candidates}
    expected = "cancelled" if early else "length"
    return (
        stored.status == "decided"
        and sorted(reasons) == sorted(VOICES)
        and reasons[VOICES[2]] == expected
    )


def run(options: Options) -> BenchResult:
    rounds = options.rounds(default=8, quick=2)
    samples: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        logs = Path(tmp)
        agent = AgentProcess(agent_settings("bench-agent", slots=4), logs)
        with ProcessGroup(agent):
            agent.wait_ready()
            config = leader_config(logs / "leader.yaml", agent.address)
            leader = LeaderProcess(
                [agent.address], logs / "rounds.db", logs, voices=1, config=config
            )
            with ProcessGroup(leader):
                leader_address = leader.wait_ready()
                gateway = GatewayProcess(leader_address, logs)
                with ProcessGroup(gateway), grpc.insecure_channel(leader_address) as channel:
                    url = gateway.wait_ready()
                    stub = leader_pb2_grpc.LeaderServiceStub(channel)
                    client = OpenAI(
                        base_url=url + "/v1",
                        api_key="unused",
                        max_retries=0,
                        http_client=httpx.Client(timeout=600),
                    )
                    via_leader(stub, PROMPT, True)  # warm up: load, first prefill
                    for i in range(rounds):
                        shift = i % len(VARIANTS)
                        for door, early in VARIANTS[shift:] + VARIANTS[:shift]:
                            took = (
                                via_openai(client, PROMPT, early)
                                if door == "openai"
                                else via_leader(stub, PROMPT, early)
                            )
                            whole = stored_whole(stub, str(took["round_id"]), early)
                            samples.append(
                                {"round": i, "door": door, "early": early, **took, "whole": whole}
                            )
                            log.info(
                                "round %d %s early=%s: answer %.0f ms",
                                i,
                                door,
                                early,
                                took["answer_ms"],
                            )
    return result(samples, rounds)


def _of(samples: list[dict[str, object]], door: str, early: bool, key: str) -> list[float]:
    return [
        float(s[key])  # type: ignore[arg-type]
        for s in samples
        if s["door"] == door and s["early"] is early and s[key] is not None
    ]


def result(samples: list[dict[str, object]], rounds: int) -> BenchResult:
    rows = []
    ratios: dict[str, float | None] = {}
    for door, label in (("openai", "OpenAI door (SDK, streaming)"), ("leader", "leader RunRound")):
        early = _of(samples, door, True, "answer_ms")
        waiting = _of(samples, door, False, "answer_ms")
        paired = [
            e / w
            for e, w in zip(early, waiting, strict=True)
            if w > 0  # each round's own pair, so drift between rounds cancels
        ]
        ratios[door] = statistics.median(paired) if paired else None
        for name, values in (("early answers", early), ("every voice", waiting)):
            low_high = spread(values)
            rows.append(
                (
                    f"{label}: {name}",
                    cell(statistics.median(values) if values else None, 0),
                    f"{low_high[0]:.0f} – {low_high[1]:.0f}" if low_high else "—",
                )
            )
        rows.append((f"{label}: early / every voice (paired)", cell(ratios[door], 3), ""))
    gaps = _of(samples, "leader", True, "settled_gap_ms")
    gap = statistics.median(gaps) if gaps else None
    # The leader's stream ends once the record is written: decided -> end is that write,
    # which the decided event used to wait for and no longer does.
    writes = [
        float(s["end_ms"]) - float(s["answer_ms"])  # type: ignore[arg-type]
        for s in samples
        if s["door"] == "leader" and s["early"] is True
    ]
    write = statistics.median(writes) if writes else None
    whole = sum(1 for s in samples if s["whole"])
    table = Table(
        title=f"Time to the decided answer at the client, {rounds} rounds per variant "
        f"(3 voices: 2 x {QUICK_TOKENS} tokens, 1 x {SLOW_TOKENS})",
        columns=("variant", "median ms", "range ms"),
        rows=tuple(rows),
        notes=(
            "Early answers: early_stop=true (the default), the straggler stopped once the two "
            "quick voices agree; every voice: early_stop=false, the straggler runs to its end.",
            "Variants interleaved, order rotating every round; ratios are per round, then "
            "the median.",
        ),
    )
    detail = Table(
        title="What the early answer still waits for, and the stored rounds",
        columns=("measure", "value"),
        rows=(
            (
                "leader stream: settled (2nd agreeing candidate) to decided event, median ms",
                cell(gap, 2),
            ),
            (
                "leader stream: decided event to stream end (the record's write), median ms",
                cell(write, 2),
            ),
            (
                "stored rounds whole (decided, every voice, straggler as expected)",
                f"{whole} / {len(samples)}",
            ),
        ),
        notes=(
            "The decided event is sent before the round's record is written (the answer "
            "used to wait for that write: the second row); GetRound waits for it, so each "
            "round here is read whole right after its answer.",
        ),
    )
    return BenchResult(
        name="early_answers",
        title="Early answers: a settled vote reaches the client at once",
        tables=(table, detail),
        parameters={
            "rounds": rounds,
            "voices": list(VOICES),
            "quick_tokens": QUICK_TOKENS,
            "slow_tokens": SLOW_TOKENS,
            "temperature": 0.0,
            "agent_slots": 4,
        },
        measurements={
            "samples": samples,
            "ratio_openai": ratios["openai"],
            "ratio_leader": ratios["leader"],
            "settled_to_decided_ms": gap,
            "decided_to_stream_end_ms": write,
        },
    )
