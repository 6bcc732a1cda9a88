"""Conclave's MCP tools, on the official `mcp` SDK: ask the council as one tool call.

- `ask`: a question, a strategy, a voting method and knobs -> the decided answer, its
  agreement and dissent, and the round id;
- `compare`: every participant answers on its own -> the answers side by side;
- `get_round`, `list_rounds`, `list_agents`: the rounds API and the swarm, as tools.

A tool call is one translation into the same round request every door makes
(`completions.round_spec`); errors are mapped by the gateway's one table and shaped as
MCP tool errors (`is_error` results the calling model can read). While a round runs the
tool reports MCP progress: the round's start, each candidate as it finishes, the
decision. Cancelling the tool call cancels the round: the round is awaited inside the
call, so the SDK's cancellation ends the leader call, and with it every generation.

This module has no `from __future__ import annotations`: the tools' signatures are read
at registration, and their bounds come from the settings they are built with.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from conclave import __version__
from conclave.errors import ConclaveError, InvalidRequest
from conclave.gateway import catalog
from conclave.gateway.completions import choices, round_spec
from conclave.gateway.errors import HttpError, error_body
from conclave.gateway.mcp.settings import McpSettings
from conclave.gateway.protocol import ConclaveOptions, SamplingFields
from conclave.leader import convert
from conclave.leader.client import LeaderClient
from conclave.leader.events import CandidateDone, RoundDecided, RoundEvent, RoundStarted
from conclave.leader.types import RoundRecord, RoundSpec
from conclave.leader.voting import METHODS

API = "mcp"
# The methods that never stop a participant early: `compare` must hear everyone out.
COMPARE_METHOD = "fastest"
STRATEGIES = {card.strategy: card for card in catalog.STRATEGY_MODELS}
Strategy = Literal[tuple(STRATEGIES)]  # type: ignore[valid-type]
Method = Literal[tuple(METHODS)]  # type: ignore[valid-type]

OnEvent = Callable[[RoundEvent], Awaitable[None]]
# Runs a round to its decision, showing each event to the callback on the way.
Decide = Callable[[RoundSpec, OnEvent], Awaitable[RoundRecord]]

INSTRUCTIONS = (
    "Conclave is a team of local LLM agents. `ask` puts a question to all of them at once "
    "and returns the answer they voted for, how much they agreed and what the others said; "
    "`compare` shows every participant's own answer; every answer names its round, which "
    "`get_round` shows in full (each candidate, critique and vote)."
)


class Vote(BaseModel):
    answer: str = Field(description="The answer a group of candidates agreed on.")
    weight: float = Field(description="The group's score under the voting method.")
    candidates: int = Field(description="How many candidates gave it.")


class AskResult(BaseModel):
    answer: str = Field(description="The decided answer: the winning candidate's full text.")
    short_answer: str = Field(description="The extracted answer the vote was over.")
    agreement: float = Field(description="Share of usable candidates in the winning group, 0..1.")
    dissent: list[str] = Field(description="The other groups' answers, best first.")
    votes: list[Vote]
    winner: str | None = Field(description="The participant whose answer won.")
    round_id: str = Field(description="The stored round: get_round or GET /v1/rounds/{id}.")
    strategy: str
    method: str
    candidates: int = Field(description="Candidates in the round (all turns).")


class Answer(BaseModel):
    participant: str
    answer: str
    finish_reason: str = Field(description="stop, length, or why the answer is missing.")
    error: str = ""
    completion_tokens: int
    latency_ms: float


class CompareResult(BaseModel):
    question: str
    answers: list[Answer] = Field(description="One per participant sample, in order.")
    round_id: str


class RoundPage(BaseModel):
    rounds: list[dict[str, Any]] = Field(description="Round summaries, newest first.")
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class AgentRow(BaseModel):
    name: str
    address: str
    source: str = Field(description="static, zeroconf or kubernetes.")
    healthy: bool = Field(description="It answered GetInfo.")
    error: str = Field(description="Why it did not answer, when it did not.")
    model: str
    participants: list[str] = Field(description="The voices it serves.")
    slots_total: int
    slots_busy: int
    queue_depth: int
    context_size: int
    temperature_c: float | None = Field(description="Its hardware temperature, when known.")


class AgentList(BaseModel):
    agents: list[AgentRow]


class RoundDetail(BaseModel):
    round: dict[str, Any] = Field(
        description="Every candidate and critique with participant, text, tokens and "
        "timings; the tally, winner, agreement and dissent."
    )


def mcp_error(mapped: HttpError, message: str, param: str | None = None) -> dict[str, Any]:
    """An error as the tool result's text: the table's code and status, then the message."""
    where = f" ({param})" if param else ""
    return {"text": f"{mapped.code} ({mapped.status}){where}: {message}"}


def tool_error(error: ConclaveError) -> ToolError:
    _, shaped = error_body(error, mcp_error)
    return ToolError(shaped["text"])


class Progress:
    """MCP progress of one round: 0 at its start, one step per finished candidate, the
    last step the decision. `total` is known for a vote (participants x samples, plus
    the decision); conversation strategies add turns as they go, so theirs is open."""

    def __init__(self, ctx: Context, samples: int) -> None:
        self._ctx = ctx
        self._samples = samples
        self._done = 0
        self._total: int | None = None

    async def __call__(self, event: RoundEvent) -> None:
        if isinstance(event, RoundStarted):
            if event.strategy == "vote":
                self._total = len(event.participants) * self._samples + 1
            await self._report(
                f"round {event.round_id} started: {len(event.participants)} participants, "
                f"strategy {event.strategy}, method {event.method}"
            )
        elif isinstance(event, CandidateDone):
            self._done += 1
            c = event.candidate
            await self._report(f"{c.participant} answered (turn {c.turn}, {c.finish_reason})")
        elif isinstance(event, RoundDecided):
            self._done += 1
            decision = event.record.decision
            await self._report(f"decided by {decision.method}: agreement {decision.agreement:.2f}")

    async def _report(self, message: str) -> None:
        total = self._total if self._total is None else max(self._total, self._done)
        await self._ctx.report_progress(self._done, total, message)


def build_server(leader: LeaderClient, settings: McpSettings, decide: Decide) -> MCPServer:
    """The MCP server over one leader; `decide` runs a round (the gateway passes its
    admitted, metered runner; `conclave mcp` the leader client's own)."""
    # MCPServer calls logging.basicConfig: a no-op once the CLI has configured logging.
    server = MCPServer(
        "conclave", instructions=INSTRUCTIONS, version=__version__, log_level=settings.log_level
    )
    text_limit = settings.max_content_chars

    Question = Annotated[
        str, Field(min_length=1, max_length=text_limit, description="The question to answer.")
    ]
    System = Annotated[
        str | None,
        Field(max_length=text_limit, description="A system message for every participant."),
    ]
    Participants = Annotated[
        list[str] | None,
        Field(description="Participant names to ask (list_agents); default: all."),
    ]
    MaxTokens = Annotated[
        int | None,
        Field(ge=1, le=settings.max_tokens_cap, description="Longest answer, tokens."),
    ]
    Temperature = Annotated[float | None, Field(ge=0, le=2, description="Sampling temperature.")]
    Seed = Annotated[
        int | None, Field(ge=0, le=2**32 - 2, description="Seed: the same seed, the same round.")
    ]

    async def run(spec: RoundSpec, ctx: Context, samples: int) -> RoundRecord:
        try:
            return await decide(spec, Progress(ctx, samples))
        except ConclaveError as error:
            raise tool_error(error) from None

    def spec_of(
        tool: str,
        strategy: str,
        question: str,
        system: str | None,
        max_tokens: int | None,
        temperature: float | None,
        seed: int | None,
        options: ConclaveOptions,
    ) -> RoundSpec:
        turns = [("system", system)] if system and system.strip() else []
        turns.append(("user", question))
        if not question.strip():
            raise tool_error(InvalidRequest("the question is blank", field="question"))
        model = STRATEGIES[strategy].id
        fields = SamplingFields(
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            conclave=options.tagged({"api": API, "tool": tool}),
        )
        return round_spec(fields, catalog.resolve(model), turns)

    @server.tool(
        title="Ask the council",
        description="Put one question to the whole team of local LLM agents and get the "
        "answer they decided on. strategy: "
        + "; ".join(f"{name}: {card.description}" for name, card in STRATEGIES.items())
        + ". method picks the voting method (default majority). Returns the answer, the "
        "short answer the vote was over, agreement (0..1), the dissenting answers, the vote "
        "groups and the round id (get_round shows every candidate). Reports progress while "
        "the round runs; cancelling the call cancels the round.",
    )
    async def ask(
        question: Question,
        ctx: Context,
        strategy: Annotated[Strategy, Field(description="How the team answers.")] = "vote",
        method: Annotated[Method | None, Field(description="The voting method.")] = None,
        system: System = None,
        participants: Participants = None,
        samples_per_participant: Annotated[
            int | None, Field(ge=1, le=16, description="Samples each participant draws.")
        ] = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = None,
        seed: Seed = None,
        quorum: Annotated[
            int | None, Field(ge=1, description="Fewest usable answers for a valid round.")
        ] = None,
        params: Annotated[
            dict[str, str] | None,
            Field(
                None,
                description="Method/strategy knobs, e.g. {'extract': 'number'}, "
                "{'critique_rounds': '2'}, {'judge': 'agent-1'}.",
            ),
        ] = None,
    ) -> AskResult:
        options = ConclaveOptions(
            method=method,
            participants=participants,
            samples_per_participant=samples_per_participant,
            quorum=quorum,
            params=params,
        )
        spec = spec_of("ask", strategy, question, system, max_tokens, temperature, seed, options)
        record = await run(spec, ctx, samples_per_participant or 1)
        decision = record.decision
        picked = choices(record, n=1, direct=False)
        winner = record.candidates[decision.winner] if decision.winner is not None else None
        return AskResult(
            answer=picked[0]["text"] if picked else "",
            short_answer=decision.answer,
            agreement=decision.agreement,
            dissent=list(decision.dissent),
            votes=[
                Vote(answer=g.answer, weight=g.weight, candidates=len(g.members))
                for g in decision.groups
            ],
            winner=winner.participant if winner else None,
            round_id=record.id,
            strategy=record.request.strategy,
            method=record.request.method,
            candidates=len(record.candidates),
        )

    @server.tool(
        title="Compare the participants' answers",
        description="Every participant answers the question on its own, with no vote and no "
        "critique: the answers side by side, one per participant, with why any is missing. "
        "The round is recorded too (round_id).",
    )
    async def compare(
        question: Question,
        ctx: Context,
        system: System = None,
        participants: Participants = None,
        max_tokens: MaxTokens = None,
        temperature: Temperature = None,
        seed: Seed = None,
    ) -> CompareResult:
        # A round decides by some method; `fastest` never stops a participant early, so
        # every answer is heard out, and the comparison ignores the decision.
        options = ConclaveOptions(method=COMPARE_METHOD, participants=participants)
        spec = spec_of("compare", "vote", question, system, max_tokens, temperature, seed, options)
        record = await run(spec, ctx, 1)
        return CompareResult(
            question=question,
            answers=[
                Answer(
                    participant=c.participant,
                    answer=c.text,
                    finish_reason=c.finish_reason,
                    error=c.error,
                    completion_tokens=c.completion_tokens,
                    latency_ms=c.latency_ms,
                )
                for c in record.candidates
                if c.turn == 0
            ],
            round_id=record.id,
        )

    @server.tool(
        title="One round in full",
        description="A stored round by id (from ask, compare, or any answer of the gateway): "
        "its request, every candidate and critique turn with participant, text, tokens and "
        "timings, the tally, winner, agreement and dissent.",
    )
    async def get_round(
        round_id: Annotated[str, Field(min_length=1, max_length=128, description="Round id.")],
    ) -> RoundDetail:
        try:
            return RoundDetail(round=convert.round_json(await leader.get_round(round_id)))
        except ConclaveError as error:
            raise tool_error(error) from None

    @server.tool(
        title="Recent rounds",
        description="Stored rounds, newest first, a page at a time; filter by strategy, time "
        "(unix seconds) or a tag key=value (e.g. api=mcp, tool=ask, model=conclave-vote).",
    )
    async def list_rounds(
        limit: Annotated[int, Field(ge=1, le=100, description="Rounds per page.")] = 20,
        after: Annotated[
            str | None, Field(max_length=512, description="The previous page's next.")
        ] = None,
        strategy: Annotated[str | None, Field(max_length=64)] = None,
        since: Annotated[float | None, Field(ge=0, description="Unix seconds.")] = None,
        until: Annotated[float | None, Field(ge=0, description="Unix seconds.")] = None,
        tag: Annotated[
            str | None, Field(max_length=256, pattern=r"^[^=]+=.*$", description="key=value")
        ] = None,
    ) -> RoundPage:
        try:
            page = await leader.list_rounds(
                page_size=limit,
                page_token=after,
                strategy=strategy,
                since=since,
                until=until,
                tag=tag,
            )
        except ConclaveError as error:
            raise tool_error(error) from None
        return RoundPage(
            rounds=[convert.summary_json(s) for s in page.rounds],
            next=page.next_page_token or None,
        )

    @server.tool(
        title="The swarm's agents",
        description="Every live agent service: health, its model, its participants, slots "
        "(total and busy), queue depth, context size and hardware temperature.",
    )
    async def list_agents() -> AgentList:
        try:
            listed = await leader.list_agents()
        except ConclaveError as error:
            raise tool_error(error) from None
        rows = []
        for agent in listed:
            info = agent.info or {}
            hardware = info.get("hardware") or {}
            rows.append(
                AgentRow(
                    name=agent.name,
                    address=agent.address,
                    source=agent.source,
                    healthy=agent.info is not None and not agent.error,
                    error=agent.error,
                    model=agent.model,
                    participants=list(agent.participants),
                    slots_total=int(info.get("slots_total", 0)),
                    slots_busy=int(info.get("slots_busy", 0)),
                    queue_depth=int(info.get("queue_depth", 0)),
                    context_size=int(info.get("context_size", 0)),
                    temperature_c=hardware.get("temperature_c"),
                )
            )
        return AgentList(agents=rows)

    return server
