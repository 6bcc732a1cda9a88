"""Size limits of the agent's small RPCs, checked before any work starts.

Generate is bounded by its slots, queue and context; Embed and CountTokens were not:
10,000 inputs kept an agent busy for minutes and 3 M characters of CountTokens blocked
its event loop. Each refusal names the setting that sets the limit.
"""

from __future__ import annotations

from collections.abc import Sequence

from conclave.errors import InvalidRequest
from conclave.services.engine.types import ChatMessage
from conclave.services.settings import AgentSettings


def check_embed(inputs: Sequence[str], settings: AgentSettings) -> None:
    if len(inputs) > settings.max_embed_inputs:
        raise InvalidRequest(
            f"input holds {len(inputs)} strings; Embed takes at most "
            f"{settings.max_embed_inputs} (the agent's max_embed_inputs)",
            field="input",
        )
    chars = sum(len(text) for text in inputs)
    if chars > settings.max_embed_chars:
        raise InvalidRequest(
            f"input holds {chars} characters; Embed takes at most "
            f"{settings.max_embed_chars} (the agent's max_embed_chars)",
            field="input",
        )


def check_count_tokens(
    messages: Sequence[ChatMessage], prompt: str | None, settings: AgentSettings
) -> None:
    chars = sum(len(m.content) for m in messages) + len(prompt or "")
    if chars > settings.max_count_tokens_chars:
        raise InvalidRequest(
            f"the request holds {chars} characters; CountTokens takes at most "
            f"{settings.max_count_tokens_chars} (the agent's max_count_tokens_chars)",
            field="messages" if messages else "prompt",
        )
