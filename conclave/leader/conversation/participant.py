"""A participant of a conversation strategy, as an AutoGen chat agent.

Each time its team asks it to speak, it builds its prompt from the round's conversation
and the latest answers it has heard (`conclave.leader.conversation.prompts`), asks its
model client, records the turn in the transcript, and answers with a `TextMessage`
whose metadata says which participant and turn it is and whether it is usable.

Its *turn* is how many times it has spoken before. In every team Conclave builds, a
participant speaks in each turn up to its last, so this equals the team's turn (for
`round_robin`, the pass).

What it shows from others:
- `see_same_turn=False` (`parallel`, `moa`): answers from earlier turns only, so that
  everyone in a concurrent turn sees the same thing, whoever finished first;
- `see_same_turn=True` (`round_robin`): the latest answer of each, including those given
  earlier in the same pass (the chain).

A failed generation (error, deadline) does not break the team: it is recorded as a
candidate with its reason and answered with an empty message marked unusable, which
others skip. Cancellation is recorded too, then propagates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    BaseTextChatMessage,
    TextMessage,
)
from autogen_core import CancellationToken
from autogen_core.models import (
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    RequestUsage,
    UserMessage,
)

from conclave.agents.client import ConclaveChatCompletionClient, ConclaveCreateResult
from conclave.errors import ConclaveError, Overloaded
from conclave.leader.conversation import prompts
from conclave.leader.conversation.prompts import Shown
from conclave.leader.conversation.termination import USER, usable
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.types import Candidate

log = logging.getLogger(__name__)

Style = Literal["critique", "aggregate"]
DEFAULT_CONTEXT_SIZE = 2048  # for model clients that cannot say


@dataclass(frozen=True, slots=True)
class Heard:
    name: str  # the participant's name (not its AutoGen agent name)
    turn: int
    text: str


class ConclaveParticipant(BaseChatAgent):
    def __init__(
        self,
        name: str,
        model_client: ChatCompletionClient,
        *,
        participant: str | None = None,
        service: str = "",
        style: Style = "critique",
        see_same_turn: bool = False,
        conversation: Sequence[LLMMessage] | None = None,
        transcript: Transcript | None = None,
        timeout_s: float = 120.0,
        max_tokens: int | None = None,
        context_size: int | None = None,
        description: str = "A participant of a Conclave conversation.",
        shown: Callable[[str], str] | None = None,
        answer_form: str | None = None,
    ) -> None:
        """`name` is the AutoGen agent name (an identifier); `participant` the Conclave
        participant name it records under (default: `name`). `conversation` is the
        round's messages; without it, the team's task messages are the conversation.
        `max_tokens` and `context_size` size the prompt (default: from a Conclave model
        client; else 256 and 2048). `shown` turns an answer into what the others see of
        it (a structured answer: its JSON); `answer_form`, when the answer decodes under a
        grammar, how later turns ask for it (`prompts.critique_messages`)."""
        super().__init__(name, description)
        self._client = model_client
        self.participant = participant or name
        self._service = service
        self._style = style
        self._see_same_turn = see_same_turn
        self._given_conversation = list(conversation) if conversation is not None else None
        self._task: list[LLMMessage] = []
        self._transcript = transcript or Transcript([self.participant])
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._context_size = context_size
        self._turn = 0
        self._heard: dict[str, Heard] = {}  # latest usable answer per other participant
        self._own: Heard | None = None
        self._shown = shown or (lambda text: text)
        self._answer_form = answer_form

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    @property
    def turn(self) -> int:
        """The turn it will speak in next."""
        return self._turn

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        response: Response | None = None
        async for item in self.on_messages_stream(messages, cancellation_token):
            if isinstance(item, Response):
                response = item
        assert response is not None
        return response

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        for message in messages:
            self._hear(message)
        turn = self._turn
        self._turn += 1
        prompt = await self.prompt(turn)
        candidate, usage = await self._generate(prompt, turn, cancellation_token)
        if candidate.ok:
            self._own = Heard(self.participant, turn, candidate.text)
        yield Response(
            chat_message=TextMessage(
                content=candidate.text,
                source=self.name,
                models_usage=usage,
                metadata={
                    "participant": self.participant,
                    "turn": str(turn),
                    "ok": "1" if candidate.ok else "0",
                    "finish_reason": candidate.finish_reason,
                },
            )
        )

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self._turn = 0
        self._heard.clear()
        self._own = None
        self._task.clear()

    # ---- what it is asked ---------------------------------------------------------------

    def _hear(self, message: BaseChatMessage) -> None:
        if not isinstance(message, BaseTextChatMessage) or message.source == self.name:
            return
        if message.source == USER:
            if self._given_conversation is None:
                self._task.append(UserMessage(content=message.content, source=message.source))
            return
        if not usable(message):
            return
        name = message.metadata.get("participant", message.source)
        # Another kind of agent does not say its turn: it answered in the one before ours.
        turn = int(message.metadata.get("turn", max(self._turn - 1, 0)))
        known = self._heard.get(name)
        if known is None or turn >= known.turn:
            self._heard[name] = Heard(name, turn, message.content)

    @property
    def conversation(self) -> list[LLMMessage]:
        given = self._given_conversation
        return list(given if given is not None else self._task)

    def shown(self, turn: int) -> tuple[Heard | None, list[Heard]]:
        """(own latest answer, others' latest answers) this turn may show."""
        others = [h for h in self._heard.values() if self._see_same_turn or h.turn < turn]
        return self._own, others

    async def prompt(self, turn: int) -> list[LLMMessage]:
        """The messages for `turn`, every shown answer cut to its share of the context."""
        own, others = self.shown(turn)
        conversation = self.conversation
        if self._style == "aggregate":
            # The latest layer anyone answered in, own answer included.
            heard = [*others, *([own] if own else [])]
            layer = max((h.turn for h in heard), default=None)
            shown = [
                Shown(h.name, self._shown(h.text)) for h in self._ordered(heard) if h.turn == layer
            ]
            if not shown:
                return conversation

            def build(cut: prompts.Cut) -> list[LLMMessage]:
                return prompts.aggregate_messages(conversation, shown, cut, form=self._answer_form)

            count = len(shown)
        else:
            if not others:
                return conversation  # nobody to critique: answer (again) on the question
            shown = [Shown(h.name, self._shown(h.text)) for h in self._ordered(others)]
            own_text = self._shown(own.text) if own else None

            def build(cut: prompts.Cut) -> list[LLMMessage]:
                return prompts.critique_messages(
                    conversation, own_text, shown, cut, form=self._answer_form
                )

            count = len(shown) + (own_text is not None)
        frame_tokens = await self._count(build(prompts.blank))
        budget = prompts.answer_budget(
            context_size=await self._context(),
            max_tokens=self._reply_tokens(),
            frame_tokens=frame_tokens,
            answers=count,
        )
        return build(prompts.cutter(budget))

    def _ordered(self, answers: list[Heard]) -> list[Heard]:
        """In the request's participant order, so every prompt lists them alike."""
        return sorted(answers, key=lambda h: (self._transcript.rank(h.name), h.name))

    async def _count(self, messages: list[LLMMessage]) -> int:
        if isinstance(self._client, ConclaveChatCompletionClient):
            return await self._client.count_tokens_async(messages)
        return self._client.count_tokens(messages)

    async def _context(self) -> int:
        if self._context_size is not None:
            return self._context_size
        if isinstance(self._client, ConclaveChatCompletionClient):
            return await self._client.context_size()
        return DEFAULT_CONTEXT_SIZE

    def _reply_tokens(self) -> int:
        if self._max_tokens is not None:
            return self._max_tokens
        if isinstance(self._client, ConclaveChatCompletionClient):
            return self._client.config.max_tokens
        return 256

    # ---- answering ----------------------------------------------------------------------

    async def _generate(
        self, prompt: list[LLMMessage], turn: int, token: CancellationToken
    ) -> tuple[Candidate, RequestUsage | None]:
        """Asks the model; every outcome, failures included, is recorded as a candidate."""
        self._transcript.started(self.participant, turn)
        started = time.perf_counter()
        first_token_ms = 0.0

        async def reply() -> CreateResult | None:
            nonlocal first_token_ms
            result: CreateResult | None = None
            async for item in self._client.create_stream(prompt, cancellation_token=token):
                if isinstance(item, str):
                    if not first_token_ms:
                        first_token_ms = _ms_since(started)
                    if item:
                        self._transcript.text(self.participant, turn, item)
                else:
                    result = item
            return result

        def failed(reason: str, error: str) -> Candidate:
            return self._candidate(turn, "", reason, error=error, latency_ms=_ms_since(started))

        # A task linked to the token: cancelling the team stops this reply even when the
        # model client does not watch the token itself.
        generation = asyncio.ensure_future(reply())
        token.link_future(generation)
        result: CreateResult | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await generation
        except TimeoutError:
            candidate = failed("timeout", f"no answer within {self._timeout_s:g} s")
        except Overloaded as error:  # busy, not broken: the leader's retry signal
            candidate = failed("overloaded", str(error))
        except ConclaveError as error:
            log.warning("participant %s, turn %d: %s", self.participant, turn, error)
            candidate = failed("error", str(error))
        except asyncio.CancelledError:
            self._transcript.finished(failed("cancelled", "the conversation was cancelled"))
            raise
        else:
            if result is None or not isinstance(result.content, str):
                candidate = failed("error", "the model client returned no text")
            else:
                candidate = self._from_result(result, turn, started, first_token_ms)
        self._transcript.finished(candidate)
        return candidate, (result.usage if result is not None else None)

    def _from_result(
        self, result: CreateResult, turn: int, started: float, first_token_ms: float
    ) -> Candidate:
        latency_ms = _ms_since(started)
        if isinstance(result, ConclaveCreateResult):
            reason = result.conclave_finish_reason or result.finish_reason
            generation_ms = result.generation_ms
            cached = result.cached_prompt_tokens
        else:  # another model client: what we measured is all there is
            reason = result.finish_reason if result.finish_reason in ("stop", "length") else "error"
            generation_ms = latency_ms
            cached = 0
        assert isinstance(result.content, str)
        return self._candidate(
            turn,
            result.content,
            reason,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            latency_ms=latency_ms,
            first_token_ms=first_token_ms,
            generation_ms=generation_ms,
            cached_prompt_tokens=cached,
        )

    def _candidate(self, turn: int, text: str, reason: str, **fields: object) -> Candidate:
        return Candidate(
            participant=self.participant,
            service=self._service,
            sample_index=0,
            text=text,
            finish_reason=reason,
            turn=turn,
            **fields,  # type: ignore[arg-type]
        )


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
