"""The OpenAI API shapes the gateway accepts and returns, plus Conclave's extension.

Requests are strict about types (a wrong type is a 400, never a guess) and lenient about
fields OpenAI has that Conclave ignores (they are accepted and dropped), so stock clients
work unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

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

from conclave.gateway.text import refuse_lone_surrogates


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


class FunctionCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1)
    arguments: StrictStr = Field("", description="The arguments as JSON text.")


class ToolCall(BaseModel):
    """A call an assistant made, as it comes back in a conversation's history."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    # None only for an assistant turn that called tools (OpenAI sends null there).
    content: StrictStr | list[ContentPart] | None = None
    name: StrictStr | None = None
    tool_calls: list[ToolCall] | None = None  # assistant: the calls it made
    tool_call_id: StrictStr | None = None  # tool: which call this is the result of

    @model_validator(mode="after")
    def _consistent(self) -> ChatMessage:
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError("content is required (null only for an assistant's tool_calls)")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message has tool_calls")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id it answers")
        if self.tool_call_id is not None and self.role != "tool":
            raise ValueError("only a tool message has a tool_call_id")
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: StrictStr = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: StrictStr | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="The JSON Schema.")
    strict: StrictBool | None = None


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["json_object"]


class JsonSchemaResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["json_schema"]
    json_schema: JsonSchemaFormat


ResponseFormatField = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaResponseFormat, Field(discriminator="type")
]


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionDefinition


class NamedFunction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(min_length=1)


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: NamedFunction


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False


class SamplingFields(BaseModel):
    """Fields shared by chat and text completions."""

    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        return refuse_lone_surrogates(data)

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
    response_format: ResponseFormatField | None = None
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    # Every answer holds at most one call, which either setting permits.
    parallel_tool_calls: StrictBool | None = None


class CompletionRequest(SamplingFields):
    prompt: StrictStr | list[StrictStr]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        return refuse_lone_surrogates(data)

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
