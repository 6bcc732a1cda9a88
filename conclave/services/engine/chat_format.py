"""Chat messages -> one prompt string, the way the model reads them best.

The GGUF's own Jinja template wins when it has one. A *base* model (no template, and
nothing in its GGUF names an instruction or chat fine-tune) was never taught to take
turns: given Gemma's turn markers, the bundled Gemma 3 270M continues the user's text
instead of answering (3 % on easy capital questions). What a base model does well is
continue a document, so it gets `CompletionFormat`: a transcript that opens with a few
demonstration exchanges and ends with an open assistant line (77 % on the same
questions). An instruction-tuned model without a template gets the turns of its
architecture; one of an unknown architecture is refused for chat (raw prompts still
work): guessing a format silently gives answers that look plausible and are quietly worse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from conclave.errors import InvalidRequest
from conclave.services.engine.demonstrations import DEFAULT_DEMONSTRATIONS, DEFAULT_PREAMBLE
from conclave.services.engine.types import ChatMessage, Demonstration


@dataclass(frozen=True, slots=True)
class FormattedPrompt:
    text: str
    stop: tuple[str, ...]
    # False when the text already starts with the BOS token's text.
    add_bos: bool = True
    # The reply continues "Assistant:" and so starts with a space that is not part of it.
    strip_leading_space: bool = False


class ChatFormat:
    name: str

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        raise NotImplementedError


class GemmaFormat(ChatFormat):
    """Gemma's turns. Gemma has no system role: as Google's own template does, the
    system text opens the first user turn."""

    name = "gemma"

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        parts: list[str] = []
        pending_system = system
        for message in messages:
            if message.role == "system":
                continue
            content = message.content
            if message.role == "user" and pending_system:
                content = f"{pending_system}\n\n{content}"
                pending_system = ""
            role = "model" if message.role == "assistant" else "user"
            parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
        if pending_system:  # only system messages: let them stand as the user's turn
            parts.append(f"<start_of_turn>user\n{pending_system}<end_of_turn>\n")
        parts.append("<start_of_turn>model\n")
        return FormattedPrompt(text="".join(parts), stop=("<end_of_turn>",))


class ChatMLFormat(ChatFormat):
    name = "chatml"

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        text = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
        return FormattedPrompt(text=text + "<|im_start|>assistant\n", stop=("<|im_end|>",))


class GgufTemplateFormat(ChatFormat):
    name = "gguf-template"

    def __init__(self, template: str, bos_text: str, eos_text: str) -> None:
        self._formatter = Jinja2ChatFormatter(
            template=template, eos_token=eos_text, bos_token=bos_text
        )
        self._bos_text = bos_text

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        result = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]
        )
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        starts_with_bos = bool(self._bos_text) and result.prompt.startswith(self._bos_text)
        return FormattedPrompt(text=result.prompt, stop=tuple(stop), add_bos=not starts_with_bos)


class NoChatFormat(ChatFormat):
    name = "none"

    def __init__(self, architecture: str) -> None:
        self._architecture = architecture

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        raise InvalidRequest(
            f"this model ({self._architecture}) has no chat template and no known chat format; "
            "send a raw prompt, or start the agent with --chat-format",
            field="messages",
        )


class CompletionFormat(ChatFormat):
    """A transcript a base model continues: the preamble, the demonstrations, then the
    conversation, each turn a "User:" or "Assistant:" line, ending with an open
    "Assistant:". The next turn marker is a stop string, so a reply never runs on into a
    made-up next question. System text joins the preamble (instructions a reader of the
    transcript sees first); the demonstrations stay, so a persona changes the voice, not
    the shape of the answers."""

    name = "completion"
    USER = "User"
    ASSISTANT = "Assistant"

    def __init__(
        self,
        demonstrations: Sequence[Demonstration] = DEFAULT_DEMONSTRATIONS,
        preamble: str = DEFAULT_PREAMBLE,
    ) -> None:
        self.demonstrations = tuple(demonstrations)
        self.preamble = preamble.strip()

    def format(self, messages: Sequence[ChatMessage]) -> FormattedPrompt:
        system = [m.content.strip() for m in messages if m.role == "system" and m.content.strip()]
        head = "\n".join(part for part in (self.preamble, *system) if part)
        turns = [(d.user, d.assistant) for d in self.demonstrations]
        blocks = [head] if head else []
        blocks += [f"{self.USER}: {q}\n{self.ASSISTANT}: {a}" for q, a in turns]
        conversation = [m for m in messages if m.role != "system"]
        lines = [f"{self._label(m.role)}: {m.content.strip()}" for m in conversation]
        # An exchange is one block; the open assistant line closes the last one.
        blocks.append("\n".join([*lines, f"{self.ASSISTANT}:"]))
        return FormattedPrompt(
            text="\n\n".join(blocks),
            # The blank-line forms first: a reply never ends with the newlines before them.
            stop=tuple(
                f"{gap}{label}:" for label in (self.USER, self.ASSISTANT) for gap in ("\n\n", "\n")
            ),
            strip_leading_space=True,
        )

    def _label(self, role: str) -> str:
        return self.ASSISTANT if role == "assistant" else self.USER


NAMED_FORMATS = ("gemma", "chatml", "completion", "template")
# Architecture prefixes (GGUF general.architecture) whose turn format is known.
ARCHITECTURE_FORMATS = {"gemma": "gemma", "qwen": "chatml"}
# Words in a GGUF's name, fine-tune or tags that say it was tuned to follow turns.
_TUNED = re.compile(r"(?<![a-z])(it|instruct\w*|chat|sft|dpo|rlhf|assistant)(?![a-z])", re.I)


@dataclass(frozen=True, slots=True)
class ModelIdentity:
    """What a GGUF says about itself that decides its chat format."""

    architecture: str
    template: str | None = None
    # general.name, general.basename, general.finetune and general.tags, as written.
    names: tuple[str, ...] = ()

    @property
    def instruction_tuned(self) -> bool:
        return bool(self.template) or any(_TUNED.search(n) for n in self.names)


@dataclass(frozen=True, slots=True)
class ChatFormatChoice:
    format: ChatFormat
    reason: str  # for GetInfo, doctor and the load log line


def choose_chat_format(
    identity: ModelIdentity,
    *,
    override: str | None = None,
    override_reason: str = "set by chat_format",
    bos_text: str = "",
    eos_text: str = "",
    demonstrations: Sequence[Demonstration] = DEFAULT_DEMONSTRATIONS,
    preamble: str = DEFAULT_PREAMBLE,
) -> ChatFormatChoice:
    def named(name: str) -> ChatFormat:
        if name == "completion":
            return CompletionFormat(demonstrations, preamble)
        return GemmaFormat() if name == "gemma" else ChatMLFormat()

    if override:
        if override not in NAMED_FORMATS:
            raise ValueError(f"unknown chat format {override!r}; known: {', '.join(NAMED_FORMATS)}")
        if override != "template":
            return ChatFormatChoice(named(override), override_reason)
        if not identity.template:
            raise ValueError("chat format 'template' asks for the GGUF's template; it has none")
    if identity.template:
        return ChatFormatChoice(
            GgufTemplateFormat(identity.template, bos_text, eos_text), "the GGUF's chat template"
        )
    if not identity.instruction_tuned:
        return ChatFormatChoice(
            named("completion"),
            "a base model (no chat template, no instruction fine-tune in its GGUF metadata)",
        )
    for prefix, name in ARCHITECTURE_FORMATS.items():
        if identity.architecture.startswith(prefix):
            return ChatFormatChoice(
                named(name), f"instruction-tuned {identity.architecture} without a template"
            )
    return ChatFormatChoice(
        NoChatFormat(identity.architecture),
        f"instruction-tuned {identity.architecture} with no template and no known format",
    )
