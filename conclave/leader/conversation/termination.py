"""Stop a conversation once every participant gives the same answer.

Judged on one whole turn: the concurrent team hands a termination condition all the
messages of a turn at once (see `conclave.agents.team`). The turn's answers agree when
each participant's message is usable (non-empty, not marked failed) and all of them
extract to the same short answer under the round's extraction mode
(`conclave.leader.voting.extract_answer`), so "4", "The answer is 4." and "Answer: 4"
agree under the default mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from autogen_agentchat.base import TerminatedException, TerminationCondition
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    BaseTextChatMessage,
    StopMessage,
)
from autogen_core import Component
from pydantic import BaseModel, Field

from conclave.leader.voting import EXTRACT_MODES, extract_answer

USER = "user"  # the source of the task message, which is not an answer


class AgreementTerminationConfig(BaseModel):
    extract: str = Field("auto", description=f"Answer extraction: {', '.join(EXTRACT_MODES)}.")
    participants: int = Field(1, ge=1, description="Answers a turn must have to agree.")


class AgreementTermination(TerminationCondition, Component[AgreementTerminationConfig]):
    """Stops when a turn's `participants` answers all agree (see the module docstring)."""

    component_type = "termination"
    component_config_schema = AgreementTerminationConfig
    component_provider_override = "conclave.leader.conversation.termination.AgreementTermination"

    def __init__(self, extract: str = "auto", participants: int = 1) -> None:
        self._config = AgreementTerminationConfig(extract=extract, participants=participants)
        extract_answer("", self._config.extract)  # an unknown mode fails here, not mid-round
        self._terminated = False

    @property
    def terminated(self) -> bool:
        return self._terminated

    async def __call__(
        self, messages: Sequence[BaseAgentEvent | BaseChatMessage]
    ) -> StopMessage | None:
        if self._terminated:
            raise TerminatedException("the conversation already agreed")
        answers = [m for m in messages if isinstance(m, BaseTextChatMessage) and m.source != USER]
        if len(answers) < self._config.participants:
            return None
        if not all(usable(m) for m in answers):
            return None
        extracted = {extract_answer(m.content, self._config.extract) for m in answers}
        if len(extracted) != 1:
            return None
        self._terminated = True
        return StopMessage(
            content=f"all {len(answers)} answers agree on {extracted.pop()!r}",
            source="AgreementTermination",
        )

    async def reset(self) -> None:
        self._terminated = False

    def _to_config(self) -> AgreementTerminationConfig:
        return self._config.model_copy()

    @classmethod
    def _from_config(cls, config: AgreementTerminationConfig) -> Self:
        return cls(extract=config.extract, participants=config.participants)


def usable(message: BaseTextChatMessage) -> bool:
    """A participant's answer that can be voted on or shown to others."""
    return message.metadata.get("ok", "1") == "1" and bool(message.content.strip())
