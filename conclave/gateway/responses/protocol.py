"""The Responses API request shapes the door accepts.

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


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: StrictStr
    text: StrictStr = ""
    # An earlier response's output_text, sent back as input, carries these; they describe
    # that text and change nothing about the next answer (as on OpenAI's side).
    annotations: list[dict] | None = None
    logprobs: list[dict] | None = None


class InputItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: StrictStr = "message"
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: StrictStr | list[ContentPart] | None = None
    # An earlier response's output item, sent back as input, carries its id and status.
    id: StrictStr | None = None
    status: StrictStr | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: StrictStr


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    format: TextFormat | None = None


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        return refuse_lone_surrogates(data)

    model: StrictStr = Field(min_length=1, description="A strategy model or agent/<name>.")
    input: StrictStr | list[InputItem]
    instructions: StrictStr | None = Field(
        None, description="A system message for this response only (not carried forward)."
    )
    previous_response_id: StrictStr | None = Field(
        None, max_length=200, description="Continue the conversation of a stored response."
    )
    max_output_tokens: StrictInt | None = None
    temperature: StrictFloat | StrictInt | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | StrictInt | None = Field(None, gt=0, le=1)
    stream: StrictBool = False
    store: StrictBool = Field(True, description="Every round is stored: only true.")
    metadata: dict[StrictStr, StrictStr] | None = Field(None, max_length=16)
    user: StrictStr | None = Field(None, max_length=256)
    text: TextConfig | None = None
    tools: list[dict] | None = Field(None, description="Only an empty list, for now.")
    truncation: Literal["disabled", "auto"] | None = None
    conclave: ConclaveOptions | None = Field(None, description="Conclave's strategy knobs.")
