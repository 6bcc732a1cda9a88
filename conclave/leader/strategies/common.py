"""What the conversation strategies share: model clients, members, running a team.

A strategy builds one AutoGen team per round. Its members are `ConclaveParticipant`s that
speak through a model client each and record every turn in a `Transcript` whose sink is
the round's own candidate list, events and timings, so RunRound streams the conversation
as it happens and the round store keeps all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Protocol

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import TextMessage
from autogen_agentchat.teams import BaseGroupChat
from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from conclave.agents.channels import AgentChannels
from conclave.agents.client import ConclaveChatCompletionClient
from conclave.agents.messages import to_llm_messages
from conclave.agents.participant import ConclaveParticipant, Style
from conclave.agents.transcript import Transcript
from conclave.leader.rounds import RoundContext
from conclave.leader.types import Participant
from conclave.services.engine.types import SamplingParams

log = logging.getLogger(__name__)

_NON_WORD = re.compile(r"\W")
CANCEL_GRACE_S = 10.0  # a cancelled team winds down within this, or is abandoned


class ClientSource(Protocol):
    """Model clients for one round's participants."""

    def client(
        self, participant: Participant, sampling: SamplingParams, timeout_s: float
    ) -> ChatCompletionClient: ...

    async def close(self) -> None: ...


ClientSourceFactory = Callable[[], ClientSource]


class AgentServiceClients:
    """Conclave clients for a round: one gRPC channel per agent service, shared by the
    participants on it and closed with the round."""

    def __init__(self) -> None:
        self._channels = AgentChannels()

    def client(
        self, participant: Participant, sampling: SamplingParams, timeout_s: float
    ) -> ConclaveChatCompletionClient:
        return ConclaveChatCompletionClient(
            channels=self._channels,
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
        )

    async def close(self) -> None:
        await self._channels.close()


def agent_name(index: int, participant: str) -> str:
    """An AutoGen agent name (a Python identifier, unique in the team) for a participant
    whose own name may hold '-', '@', ':' and the like."""
    return f"p{index}_{_NON_WORD.sub('_', participant)}"


def new_transcript(ctx: RoundContext) -> Transcript:
    return Transcript(
        [p.name for p in ctx.participants],
        emit=ctx.emit,
        sink=ctx.candidates,
        timings=ctx.timings,
    )


def members(
    ctx: RoundContext,
    source: ClientSource,
    transcript: Transcript,
    *,
    style: Style,
    see_same_turn: bool,
) -> list[ConclaveParticipant]:
    """One team member per participant of the round, in the request's order."""
    conversation = to_llm_messages(ctx.messages)
    timeout_s = ctx.request.participant_timeout_s
    out = []
    for index, participant in enumerate(ctx.participants):
        sampling = ctx.spec(participant, ctx.messages).sampling
        out.append(
            ConclaveParticipant(
                agent_name(index, participant.name),
                source.client(participant, sampling, timeout_s),
                participant=participant.name,
                service=participant.service,
                style=style,
                see_same_turn=see_same_turn,
                conversation=conversation,
                transcript=transcript,
                timeout_s=timeout_s,
                max_tokens=sampling.max_tokens,
            )
        )
    return out


def question(ctx: RoundContext) -> str:
    users = [content for role, content in ctx.request.messages if role == "user"]
    return users[-1] if users else ""


async def run_team(team: BaseGroupChat, ctx: RoundContext) -> TaskResult:
    """Runs the team to its end. When the round is cancelled (the caller went away),
    every participant's call is cancelled through the team's token first: AutoGen's
    run waits for its runtime to go idle, which would otherwise mean waiting for every
    generation to finish."""
    token = CancellationToken()
    task = TextMessage(content=question(ctx), source="user")
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


async def close_quietly(source: ClientSource) -> None:
    try:
        await source.close()
    except Exception:  # closing must never hide the round's own outcome
        log.warning("closing a round's model clients failed", exc_info=True)
