"""The Messages API request shapes the door accepts.

Types are strict (a wrong type is a 400); fields the API has but Conclave does not honour
are kept only to be refused by name (`translate.py`, `gateway/strict.py`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from conclave.gateway.protocol import ConclaveOptions
from conclave.gateway.text import refuse_lone_surrogates


class CacheControl(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


class TextBlock(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: StrictStr
    text: StrictStr = ""
    # Honoured as it stands: every agent keeps the longest prompt prefix it has seen in
    # its KV cache by itself, so a marked prefix is cached without being asked.
    cache_control: CacheControl | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant"]
    content: StrictStr | list[TextBlock]


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_id: StrictStr | None = Field(None, max_length=256, description="Stored as a round tag.")


class PromptFields(BaseModel):
    """What a prompt is made of: shared by messages and count_tokens."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        return refuse_lone_surrogates(data)

    model: StrictStr = Field(min_length=1, description="A strategy model or agent/<name>.")
    messages: list[Message] = Field(min_length=1)
    system: StrictStr | list[TextBlock] | None = None
    tools: list[dict] | None = Field(None, description="Only an empty list, for now.")
    # Top-level form of the block marker: honoured the same way (see TextBlock).
    cache_control: CacheControl | None = None


class MessagesRequest(PromptFields):
    max_tokens: StrictInt = Field(description="Required, as in Anthropic's API.")
    stop_sequences: list[StrictStr] | None = None
    # Anthropic's ranges, not OpenAI's.
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=1)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    stream: StrictBool = False
    metadata: Metadata | None = None
    conclave: ConclaveOptions | None = Field(None, description="Conclave's strategy knobs.")


class CountTokensRequest(PromptFields):
    pass
