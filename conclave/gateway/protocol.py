"""The OpenAI API shapes the gateway accepts and returns, plus Conclave's extension.

Requests are strict about types (a wrong type is a 400, never a guess) and lenient about
fields OpenAI has that Conclave ignores (they are accepted and dropped), so stock clients
work unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr


class ConclaveOptions(BaseModel):
    """The `conclave` extension object of a request body: strategy parameters per request."""

    model_config = ConfigDict(extra="forbid")

    method: StrictStr | None = Field(None, description="Voting method, e.g. majority.")
    participants: list[StrictStr] | None = Field(None, description="Participant names.")
    samples_per_participant: StrictInt | None = Field(None, ge=1, le=16)
    quorum: StrictInt | None = Field(None, ge=1)
    participant_timeout_s: StrictFloat | StrictInt | None = Field(None, gt=0)
    params: dict[StrictStr, StrictStr] | None = Field(
        None, description="Method/strategy knobs, e.g. {'critique_rounds': '2'}."
    )
    tags: dict[StrictStr, StrictStr] | None = Field(None, description="Stored with the round.")

    def tagged(self, tags: dict[str, str]) -> ConclaveOptions:
        """These options with more round tags: a door's own (`api=...`) over the client's."""
        return self.model_copy(update={"tags": {**(self.tags or {}), **tags}})


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: StrictStr | list[ContentPart]
    name: StrictStr | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class SamplingFields(BaseModel):
    """Fields shared by chat and text completions."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    max_tokens: StrictInt | None = None
    max_completion_tokens: StrictInt | None = None
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    n: StrictInt = Field(1, ge=1)
    seed: StrictInt | None = Field(None, ge=0, le=2**32 - 2)
    stop: StrictStr | list[StrictStr] | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: StrictStr | None = Field(None, max_length=256)
    conclave: ConclaveOptions | None = None

    def token_limit(self) -> int | None:
        return (
            self.max_completion_tokens
            if self.max_completion_tokens is not None
            else self.max_tokens
        )

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(SamplingFields):
    prompt: StrictStr | list[StrictStr]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    input: StrictStr | list[StrictStr]
    # The openai SDK asks for base64 (little-endian float32) by default.
    encoding_format: Literal["float", "base64"] = "float"
    user: StrictStr | None = None


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "conclave"
    conclave: dict[str, Any] = Field(default_factory=dict)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
