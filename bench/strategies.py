"""Issue 5: what a decided round costs, by strategy: tokens and wall time, side by side.

`vote`, `parallel` (R=1), `round_robin` (R=1) and `moa` (1 layer) answer the same 10
short questions. Three participants wearing the ready-made personas (solver, skeptic,
fact-checker) share one agent service subprocess with 4 slots, as voices on one machine
do; the leader's RoundRunner runs in this process (no leader RPC hop: the strategies are
what is measured). Strategies are interleaved per question, their order rotated from one
question to the next (bench/order.py), so a slow spell hits all of them alike.

Tokens are everything the agent processed for the round: the prompt and completion
tokens of every candidate of every turn (a critique turn's prompt carries the others'
answers, so prompt tokens grow with each turn). Wall time is the round's, from start to
decision. "correct" compares the decided short answer with the expected number: a
270M-parameter model gets most of them wrong, and the column is there to be read with
that in mind, not as a verdict on the strategies.

Every round is asked twice, of two agents side by side (their order rotated too): the
agent as it ships, and the same agent with its prompt cache off (`prefix_cache: false`,
what every round cost before issue 20: each prompt prefilled whole). Their GetInfo
counters say how many prompt tokens each actually prefilled; the ratios between them are
taken question by question: a cached and an uncached round of one strategy ran back to
back, and the strategies of one question within minutes of each other. `parallel` runs
with `stop_on_agreement: false`, so it always decodes its two turns (issue 20's
"R = 1, no early stop").

Every strategy asks the same question, so without care the cached agent would answer the
second strategy's first turn from the first strategy's KV cells: a vote would look
nearly free, which no user asking a new question sees. Before each of its rounds the
cached agent therefore serves an unmeasured filler round: as many voices as it has
slots, all at once, on a question never asked before, so every slot then holds the
shared text (system prompt, demonstrations, persona) and another question, as on an
agent that has been answering other users. What a round reuses is then only what any
new question would find, and, in later turns, its own earlier turns.

The last table splits the cached agent's `parallel` round against its vote on the same
question (first turn, critique turn, the leader's time between them) and prices the
critique's extra prefilled tokens: bench/parallel_split.py.

Run it with `python -m bench strategies [--quick]` (or `make bench`): the table is printed
and saved as bench/results/strategies.md and .json.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import grpc

from bench.agent_server import AgentProcess, agent_settings
from bench.in_process_round import decided_round
from bench.order import rotated
from bench.parallel_split import QuestionRounds, split_table
from bench.procs import ProcessGroup
from bench.result import BenchResult, Options
from bench.stats import Target, median, ratio, spread
from bench.table import Table, cell
from bench.workload import CONTEXT_SIZE, THREADS
from conclave.agents.rpc import AgentClients
from conclave.leader.discovery import AgentDirectory
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundRunner
from conclave.leader.server import default_strategies
from conclave.leader.settings import ParticipantConfig
from conclave.leader.store import RoundStore
from conclave.leader.types import RoundRecord, RoundRequest
from conclave.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

NAME = "strategies"
AGENT_SLOTS = 4
PERSONAS = ("solver", "skeptic", "fact-checker")
MAX_TOKENS = 48
TEMPERATURE = 0.7
SEED = 1234
QUICK_QUESTIONS = 3
# The filler round before each cached round: short, greedy, every voice heard (no early
# stop, so no slot is left half-filled by a cancelled straggler).
FILLER_MAX_TOKENS = 4
# Generous: on a busy machine a generation can take minutes, and a participant's missed
# deadline would count as the strategy's failure rather than the machine's.
PARTICIPANT_TIMEOUT_S = 300.0
ROUND_TIMEOUT_S = 1800.0

# (strategy, params): what the issue asks to compare.
STRATEGIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("vote", {}),
    ("parallel", {"critique_rounds": "1", "stop_on_agreement": "false"}),
    ("round_robin", {"critique_rounds": "1"}),
    ("moa", {"layers": "1"}),
)
LABELS = {
    "vote": "vote (1 turn)",
    "parallel": "parallel (R=1)",
    "round_robin": "round_robin (R=1)",
    "moa": "moa (1 layer + aggregator)",
}

# Short numeric answers, so agreement and correctness are unambiguous.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is 12 + 30?", "42"),
    ("What is 7 times 8?", "56"),
    ("How many legs does a spider have?", "8"),
    ("What is 100 minus 37?", "63"),
    ("How many days are in a week?", "7"),
    ("What is half of 50?", "25"),
    ("How many sides does a hexagon have?", "6"),
    ("What is 9 squared?", "81"),
    ("How many minutes are in an hour?", "60"),
    ("What is 15 + 27?", "42"),
)
ANSWER_HINT = " Answer with a number."

# The two agents every round is asked of: as shipped, and with the prompt cache off.
CACHED, UNCACHED = "cached", "uncached"
AGENTS = (CACHED, UNCACHED)
# Issue 20's goals: a parallel round prefills at most half of what it did without the
# cache, and takes at most 2.1 × a vote's wall time (it decodes two turns: 2 × is the floor).
PREFILL_TARGET = 0.5
PARALLEL_WALL_TARGET = 2.1


@dataclass(frozen=True, slots=True)
class RoundRow:
    """One round of one strategy on one question."""

    agent: str  # CACHED | UNCACHED
    strategy: str
    question: int
    repeat: int
    status: str  # "decided" | "no_quorum" | "failed" | "error: ..."
    wall_ms: float
    turns: int
    generations: int
    prompt_tokens: int
    completion_tokens: int
    answer: str
    expected: str
    agreement: float
    # What the agent actually did with the round's prompts (its GetInfo counters before
    # and after the round): tokens found in a slot's KV cells, and tokens prefilled.
    cached_tokens: int = 0
    prefilled_tokens: int = 0
    # The first and the last turn's time: each its slowest candidate (request sent ->
    # finished); the last is 0 for a round of one turn.
    first_turn_ms: float = 0.0
    last_turn_ms: float = 0.0

    @property
    def decided(self) -> bool:
        return self.status == "decided"

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def correct(self) -> bool:
        return self.decided and self.answer == self.expected


def row_of(
    agent: str,
    strategy: str,
    question: int,
    repeat: int,
    record: RoundRecord,
    prompt: PromptWork,
) -> RoundRow:
    candidates = record.candidates
    return RoundRow(
        agent=agent,
        strategy=strategy,
        question=question,
        repeat=repeat,
        status=record.status,
        wall_ms=record.wall_ms,
        turns=len({c.turn for c in candidates}),
        generations=len(candidates),
        prompt_tokens=sum(c.prompt_tokens for c in candidates),
        completion_tokens=sum(c.completion_tokens for c in candidates),
        answer=record.decision.answer,
        expected=QUESTIONS[question][1],
        agreement=record.decision.agreement,
        cached_tokens=prompt.cached,
        prefilled_tokens=prompt.prefilled,
        first_turn_ms=turn_ms(record, 0),
        last_turn_ms=turn_ms(record, last)
        if (last := max((c.turn for c in candidates), default=0))
        else 0.0,
    )


def turn_ms(record: RoundRecord, turn: int) -> float:
    return max((c.latency_ms for c in record.candidates if c.turn == turn), default=0.0)


def failed_row(agent: str, strategy: str, question: int, repeat: int, error: str) -> RoundRow:
    return RoundRow(
        agent, strategy, question, repeat, f"error: {error}", 0.0, 0, 0, 0, 0, "", "", 0.0
    )


def round_runner(
    address: str, clients: AgentClients, store: RoundStore, voices: int = len(PERSONAS)
) -> RoundRunner:
    """The leader's runner with `voices` participants on the agent at `address`, wearing
    the personas in turn (the measured rounds: each persona once)."""
    registry = ParticipantRegistry(
        AgentDirectory(),
        configured=[
            ParticipantConfig(
                name=_voice_name(i),
                address=address,
                persona=PERSONAS[i % len(PERSONAS)],
                seed_offset=i,
            )
            for i in range(voices)
        ],
        per_agent=1,
    )
    return RoundRunner(
        clients=clients, store=store, participants=registry, strategies=default_strategies()
    )


def _voice_name(i: int) -> str:
    persona = PERSONAS[i % len(PERSONAS)]
    return persona if i < len(PERSONAS) else f"{persona}-{i // len(PERSONAS) + 1}"


def filler_question(n: int) -> str:
    """The n-th filler question: unlike the measured ones and never the same twice (a
    repeated filler would find itself cached and leave the other slots as they were)."""
    return f"What is {n + 200} plus {3 * n + 7}?"


async def measure(
    addresses: dict[str, str], questions: int, repeats: int, db: Path
) -> list[RoundRow]:
    """Every strategy on every question, on each agent of `addresses` (AGENTS order)."""
    store = RoundStore.open(db)
    clients = AgentClients()
    runners = {agent: round_runner(address, clients, store) for agent, address in addresses.items()}
    # Only the cached agent keeps anything from one round to the next.
    fillers = {
        agent: round_runner(address, clients, store, voices=AGENT_SLOTS)
        for agent, address in addresses.items()
        if agent == CACHED
    }
    fills = 0
    rows: list[RoundRow] = []
    try:
        # Warm-up: page the weights in and build the compute graphs (not measured).
        for runner in runners.values():
            await decide(runner, "vote", {}, 0, repeat=-1)
        order = 0
        for repeat in range(repeats):
            for question in range(questions):
                for strategy, params in rotated(STRATEGIES, order):
                    for agent in rotated(list(runners), order):
                        address = addresses[agent]
                        if agent in fillers:
                            await fill_slots(fillers[agent], fills)
                            fills += 1
                        before = await prompt_counters(address)
                        outcome = await decide(runners[agent], strategy, params, question, repeat)
                        if isinstance(outcome, str):
                            row = failed_row(agent, strategy, question, repeat, outcome)
                        else:
                            work = (await prompt_counters(address)) - before
                            row = row_of(agent, strategy, question, repeat, outcome, work)
                        rows.append(row)
                        log.info("%s", row)
                order += 1
    finally:
        await clients.close()
        store.close()
    return rows


@dataclass(frozen=True, slots=True)
class PromptWork:
    """Prompt tokens the agent found cached and prefilled (GetInfo's running totals)."""

    cached: int
    prefilled: int

    def __sub__(self, earlier: PromptWork) -> PromptWork:
        return PromptWork(self.cached - earlier.cached, self.prefilled - earlier.prefilled)


async def prompt_counters(address: str) -> PromptWork:
    async with grpc.aio.insecure_channel(address) as channel:
        info = await agent_pb2_grpc.AgentServiceStub(channel).GetInfo(
            agent_pb2.GetInfoRequest(), timeout=10
        )
    return PromptWork(info.prompt_tokens_cached_total, info.prompt_tokens_prefilled_total)


async def fill_slots(runner: RoundRunner, n: int) -> None:
    """An unmeasured vote of one voice per slot on the n-th filler question (see the
    module docstring): afterwards no slot holds text of a measured question."""
    request = RoundRequest(
        messages=(("user", filler_question(n) + ANSWER_HINT),),
        strategy="vote",
        max_tokens=FILLER_MAX_TOKENS,
        temperature=0.0,
        participant_timeout_s=PARTICIPANT_TIMEOUT_S,
        params={"early_stop": "false"},
        tags={"bench": NAME, "filler": str(n)},
    )
    outcome = await decided_round(runner, request, ROUND_TIMEOUT_S)
    if isinstance(outcome, str):
        log.warning("filler round %d: %s", n, outcome)


async def decide(
    runner: RoundRunner, strategy: str, params: dict[str, str], question: int, repeat: int
) -> RoundRecord | str:
    request = RoundRequest(
        messages=(("user", QUESTIONS[question][0] + ANSWER_HINT),),
        strategy=strategy,
        max_tokens=MAX_TOKENS,
        temperature=TEMPERATURE,
        seed=SEED + 100 * repeat + question,
        participant_timeout_s=PARTICIPANT_TIMEOUT_S,
        params=params,
        tags={"bench": NAME, "question": str(question), "repeat": str(repeat)},
    )
    return await decided_round(runner, request, ROUND_TIMEOUT_S)


def run(options: Options | None = None, *, quick: bool = False) -> BenchResult:
    """The registry passes `options`; `run(quick=True)` is the same smoke run by hand."""
    options = options or Options(quick=quick)
    questions = QUICK_QUESTIONS if options.quick else len(QUESTIONS)
    repeats = options.rounds(1, 1)
    with tempfile.TemporaryDirectory(prefix="conclave-bench-") as tmp:
        agents = {
            agent: AgentProcess(
                agent_settings(
                    f"bench-strategies-{agent}", slots=AGENT_SLOTS, prefix_cache=agent == CACHED
                ),
                Path(tmp),
            )
            for agent in AGENTS
        }
        with ProcessGroup(*agents.values()):
            addresses = {agent: process.wait_ready() for agent, process in agents.items()}
            rows = asyncio.run(measure(addresses, questions, repeats, Path(tmp) / "rounds.db"))
    return summarize(rows, questions, repeats)


def summarize(rows: list[RoundRow], questions: int, repeats: int) -> BenchResult:
    per_round = Table(
        title=f"Per decided round: {questions} questions × {repeats} repeat(s), medians",
        columns=(
            "agent",
            "strategy",
            "decided",
            "turns",
            "generations",
            "prompt tok",
            "completion tok",
            "total tok",
            "prefilled tok",
            "cache hit",
            "wall s",
            "wall range s",
            "agreement",
            "correct",
        ),
        rows=tuple(
            strategy_row(agent, strategy, runs_of(rows, agent, strategy))
            for agent in AGENTS
            for strategy, _ in STRATEGIES
        ),
        notes=(
            "agent: cached is the agent as it ships; uncached the same with "
            "`prefix_cache: false` (every prompt prefilled whole, as before issue 20)",
            "tokens: prompt + completion of every candidate of every turn of the round",
            "prefilled tok: prompt tokens the agent actually prefilled for the round; cache "
            "hit: share of the round's prompt tokens found in KV cells (GetInfo counters)",
            "turns and generations are means; parallel runs with stop_on_agreement false",
            f"3 participants (personas {', '.join(PERSONAS)}) on each agent, {AGENT_SLOTS} slots",
            "correct: decided short answer equals the expected number (a 270M model; read "
            "as a sanity check, not a ranking)",
        ),
    )
    relative = Table(
        title="Relative to vote on the same agent",
        columns=("agent", "strategy", "tokens", "prefilled", "wall time", "tok per wall s"),
        rows=tuple(
            relative_row(rows, agent, strategy) for agent in AGENTS for strategy, _ in STRATEGIES
        ),
        notes=(
            "tokens, prefilled: ratio of the medians; wall time: median over questions of "
            "the ratio on one question (both rounds ran in that question's turn)",
        ),
    )
    cache = Table(
        title="What the prompt cache changes: cached / uncached agent, same rounds",
        columns=("strategy", "prefilled", "wall time"),
        rows=tuple(
            (
                LABELS[strategy],
                cell(paired(rows, (CACHED, strategy), (UNCACHED, strategy), prefilled), 2, "×"),
                cell(paired(rows, (CACHED, strategy), (UNCACHED, strategy), wall), 2, "×"),
            )
            for strategy, _ in STRATEGIES
        ),
        notes=(
            "medians over questions of the ratio on one question (the two agents' rounds "
            "ran back to back)",
        ),
    )
    return BenchResult(
        name=NAME,
        title="Conversation strategies: tokens and wall time per decided round",
        tables=(per_round, relative, cache, split_table(parallel_rounds(rows))),
        targets=(
            Target(
                "parallel prefilled per round, cached / uncached",
                "<=",
                PREFILL_TARGET,
                paired(rows, (CACHED, "parallel"), (UNCACHED, "parallel"), prefilled),
            ),
            Target(
                "parallel / vote wall time (cached agent)",
                "<=",
                PARALLEL_WALL_TARGET,
                paired(rows, (CACHED, "parallel"), (CACHED, "vote"), wall),
            ),
        ),
        parameters={
            "questions": questions,
            "repeats": repeats,
            "agents": ", ".join(AGENTS),
            "participants": ",".join(PERSONAS),
            "agent_slots": AGENT_SLOTS,
            "context_size": CONTEXT_SIZE,
            "threads": THREADS,
            "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE,
            "seed": SEED,
            "participant_timeout_s": PARTICIPANT_TIMEOUT_S,
            "order": "interleaved per question, strategies and agents rotated each question",
            "strategies": "; ".join(f"{s} {p}" for s, p in STRATEGIES),
        },
        measurements={"rounds": [asdict(r) for r in rows]},
    )


def parallel_rounds(rows: list[RoundRow]) -> list[QuestionRounds]:
    """Per question, the rounds bench/parallel_split.py reads (questions where all three
    decided)."""
    by = {(r.agent, r.strategy, r.question, r.repeat): r for r in rows if r.decided}
    out = []
    for p in decided_of(rows, CACHED, "parallel"):
        vote = by.get((CACHED, "vote", p.question, p.repeat))
        uncached = by.get((UNCACHED, "vote", p.question, p.repeat))
        if vote is None or uncached is None:
            continue
        out.append(
            QuestionRounds(
                vote_ms=vote.wall_ms,
                vote_prefilled=vote.prefilled_tokens,
                parallel_ms=p.wall_ms,
                parallel_prefilled=p.prefilled_tokens,
                first_turn_ms=p.first_turn_ms,
                critique_turn_ms=p.last_turn_ms,
                uncached_vote_ms=uncached.wall_ms,
                uncached_vote_prefilled=uncached.prefilled_tokens,
            )
        )
    return out


def runs_of(rows: list[RoundRow], agent: str, strategy: str) -> list[RoundRow]:
    return [r for r in rows if r.agent == agent and r.strategy == strategy]


def decided_of(rows: list[RoundRow], agent: str, strategy: str) -> list[RoundRow]:
    return [r for r in runs_of(rows, agent, strategy) if r.decided]


def wall(row: RoundRow) -> float:
    return row.wall_ms


def prefilled(row: RoundRow) -> float:
    return float(row.prefilled_tokens)


def strategy_row(agent: str, strategy: str, runs: list[RoundRow]) -> tuple[str, ...]:
    decided = [r for r in runs if r.decided]
    wall_s = [r.wall_ms / 1000 for r in decided]
    bounds = spread(wall_s)
    return (
        agent,
        LABELS[strategy],
        f"{len(decided)}/{len(runs)}",
        cell(_mean([r.turns for r in decided]), 1),
        cell(_mean([r.generations for r in decided]), 1),
        cell(median([float(r.prompt_tokens) for r in decided]), 0),
        cell(median([float(r.completion_tokens) for r in decided]), 0),
        cell(median([float(r.tokens) for r in decided]), 0),
        cell(median([float(r.prefilled_tokens) for r in decided]), 0),
        cell(_hit_rate(decided), 0, "%"),
        cell(median(wall_s), 2),
        "—" if bounds is None else f"{bounds[0]:.1f} – {bounds[1]:.1f}",
        cell(_mean([r.agreement for r in decided]), 2),
        f"{sum(r.correct for r in runs)}/{len(runs)}",
    )


def relative_row(rows: list[RoundRow], agent: str, strategy: str) -> tuple[str, ...]:
    decided, base = decided_of(rows, agent, strategy), decided_of(rows, agent, "vote")
    tokens = median([float(r.tokens) for r in decided])
    return (
        agent,
        LABELS[strategy],
        cell(ratio(tokens, median([float(r.tokens) for r in base])), 2, "×"),
        cell(ratio(median(map(prefilled, decided)), median(map(prefilled, base))), 2, "×"),
        cell(paired(rows, (agent, strategy), (agent, "vote"), wall), 2, "×"),
        cell(ratio(tokens, median([r.wall_ms / 1000 for r in decided])), 0),
    )


def paired(
    rows: list[RoundRow],
    x: tuple[str, str],
    y: tuple[str, str],
    measure: Callable[[RoundRow], float],
) -> float | None:
    """Median over questions (and repeats) of x's `measure` / y's on the same question;
    x and y are (agent, strategy), `measure` is `wall` or `prefilled`."""
    xs, ys = ({(r.question, r.repeat): measure(r) for r in decided_of(rows, *v)} for v in (x, y))
    return median(ratio(xs[k], ys[k]) for k in xs.keys() & ys.keys())


def _hit_rate(rows: list[RoundRow]) -> float | None:
    seen = sum(r.cached_tokens + r.prefilled_tokens for r in rows)
    return 100.0 * sum(r.cached_tokens for r in rows) / seen if seen else None


def _mean(values: list[float] | list[int]) -> float | None:
    return statistics.fmean(values) if values else None
