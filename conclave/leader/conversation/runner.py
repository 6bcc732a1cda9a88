"""The one runner of the conversation strategies; each strategy only defines its team.

A strategy turns a round into a `TeamPlan`: how its members speak (`style`, whether they
see answers of the same turn), the AutoGen team over those members, and which
candidates of the finished conversation the round votes on. The runner does the rest,
the same for every strategy: one `ConclaveParticipant` per participant of the round,
speaking through a model client each and recording every turn in a `Transcript` whose
sink is the round's own candidate list, events and timings (so RunRound streams the
conversation as it happens and the round store keeps all of it); the team run to its
end, or cancelled with the round; the model clients closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import BaseGroupChat
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from conclave.agents.client import ConclaveChatCompletionClient
from conclave.agents.messages import to_llm_messages
from conclave.agents.rpc import AgentClients
from conclave.leader.conversation.participant import ConclaveParticipant, Style
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.rounds import RoundContext
from conclave.leader.types import Candidate, Participant
from conclave.services.engine.types import NO_CONSTRAINT, Constraint, SamplingParams

log = logging.getLogger(__name__)

_NON_WORD = re.compile(r"\W")
CANCEL_GRACE_S = 10.0  # a cancelled team winds down within this, or is abandoned


class ClientSource(Protocol):
    """Model clients for one round's participants."""

    def client(
        self,
        participant: Participant,
        sampling: SamplingParams,
        timeout_s: float,
        constraint: Constraint = NO_CONSTRAINT,
    ) -> ChatCompletionClient: ...

    async def close(self) -> None: ...


# Given the leader's agent clients (their channels), the model clients of one round.
ClientSourceFactory = Callable[[AgentClients], ClientSource]


class AgentServiceClients:
    """Conclave model clients for a round, speaking through the leader's agent clients:
    participants on one agent service share its channel with each other and with votes."""

    def __init__(self, clients: AgentClients) -> None:
        self._clients = clients

    def client(
        self,
        participant: Participant,
        sampling: SamplingParams,
        timeout_s: float,
        constraint: Constraint = NO_CONSTRAINT,
    ) -> ConclaveChatCompletionClient:
        return ConclaveChatCompletionClient(
            clients=self._clients,
            address=participant.address,
            participant=participant.name,
            system_prompt=participant.system_prompt,
            model=participant.model,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            stop=list(sampling.stop),
            timeout_s=timeout_s,
            grammar=constraint.grammar,
            json_schema=constraint.json_schema,
            constrain_after=constraint.after,
            allow_text=constraint.allow_text,
        )

    async def close(self) -> None:
        pass  # the channels are the leader's, closed when it stops


@dataclass(frozen=True, slots=True)
class TeamPlan:
    """What a strategy makes of one round (see the module docstring)."""

    style: Style
    see_same_turn: bool
    team: Callable[[list[ConclaveParticipant]], BaseGroupChat]
    voters: Callable[[Transcript], list[Candidate]]


class ConversationStrategy(ABC):
    """A round strategy that runs one AutoGen team; subclasses define the team."""

    def __init__(self, clients: ClientSourceFactory = AgentServiceClients) -> None:
        self._clients = clients

    @abstractmethod
    def plan(self, ctx: RoundContext) -> TeamPlan:
        """Reads the round's params (InvalidRequest names a bad one) and plans the team;
        called before any participant is asked anything."""

    async def __call__(self, ctx: RoundContext) -> list[Candidate]:
        plan = self.plan(ctx)
        transcript = Transcript(
            [p.name for p in ctx.participants],
            emit=ctx.emit,
            sink=ctx.candidates,
            timings=ctx.timings,
        )
        source = self._clients(ctx.clients)
        try:
            team = plan.team(_members(ctx, source, transcript, plan))
            await _run(team, ctx)
        finally:
            await _close_quietly(source)
        transcript.tidy()
        return plan.voters(transcript)


def agent_name(index: int, participant: str) -> str:
    """An AutoGen agent name (a Python identifier, unique in the team) for a participant
    whose own name may hold '-', '@', ':' and the like."""
    return f"p{index}_{_NON_WORD.sub('_', participant)}"


def _members(
    ctx: RoundContext, source: ClientSource, transcript: Transcript, plan: TeamPlan
) -> list[ConclaveParticipant]:
    """One team member per participant of the round, in the request's order."""
    conversation = to_llm_messages(ctx.messages)
    timeout_s = ctx.request.participant_timeout_s
    out = []
    for index, participant in enumerate(ctx.participants):
        spec = ctx.spec(participant, ctx.messages)
        sampling = spec.sampling
        out.append(
            ConclaveParticipant(
                agent_name(index, participant.name),
                source.client(participant, sampling, timeout_s, spec.constraint),
                participant=participant.name,
                service=participant.service,
                style=plan.style,
                see_same_turn=plan.see_same_turn,
                conversation=conversation,
                transcript=transcript,
                timeout_s=timeout_s,
                max_tokens=sampling.max_tokens,
                shown=ctx.output.shown,
                answer_form=ctx.output.critique_form(),
            )
        )
    return out


def _question(ctx: RoundContext) -> str:
    users = [content for role, content in ctx.request.messages if role == "user"]
    return users[-1] if users else ""


async def _run(team: BaseGroupChat, ctx: RoundContext) -> TaskResult:
    """Runs the team to its end. When the round is cancelled (the caller went away),
    every participant's call is cancelled through the team's token first: AutoGen's
    run waits for its runtime to go idle, which would otherwise mean waiting for every
    generation to finish."""
    token = CancellationToken()
    task = TextMessage(content=_question(ctx), source="user")
    run = asyncio.ensure_future(team.run(task=task, cancellation_token=token))
    try:
        result = await asyncio.shield(run)
    except asyncio.CancelledError:
        token.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(run, CANCEL_GRACE_S)
        raise
    log.info("round %s: %s", ctx.round_id, result.stop_reason)
    return result


async def _close_quietly(source: ClientSource) -> None:
    try:
        await source.close()
    except Exception:  # closing must never hide the round's own outcome
        log.warning("closing a round's model clients failed", exc_info=True)
