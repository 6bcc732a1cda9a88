"""Chat formats: Gemma and ChatML turns, GGUF templates, the completion-style transcript
for base models, and how a format is chosen."""

from __future__ import annotations

import pytest

from conclave.errors import InvalidRequest
from conclave.services.engine.chat_format import (
    ChatMLFormat,
    CompletionFormat,
    GemmaFormat,
    GgufTemplateFormat,
    ModelIdentity,
    NoChatFormat,
    choose_chat_format,
)
from conclave.services.engine.demonstrations import DEFAULT_DEMONSTRATIONS
from conclave.services.engine.types import ChatMessage, Demonstration

SYSTEM = ChatMessage("system", "Answer with a number.")
USER = ChatMessage("user", "What is 2 + 2?")
ASSISTANT = ChatMessage("assistant", "4")
FOLLOW_UP = ChatMessage("user", "And 3 + 3?")

BOS, EOS = "<s>", "</s>"
TEMPLATE_WITH_BOS = (
    "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}"
    "{% endfor %}<|assistant|>"
)
TEMPLATE_WITHOUT_BOS = "{% for m in messages %}[{{ m.role }}]{{ m.content }}\n{% endfor %}"


INSTRUCT = ("Some Model 1B Instruct",)


def choose(
    *,
    override: str | None = None,
    template: str | None = None,
    architecture: str = "llama",
    names: tuple[str, ...] = INSTRUCT,
):
    identity = ModelIdentity(architecture=architecture, template=template, names=names)
    return choose_chat_format(identity, override=override, bos_text=BOS, eos_text=EOS).format


# -- Gemma -------------------------------------------------------------------------------


def test_gemma_single_user_turn_ends_with_an_open_model_turn() -> None:
    prompt = GemmaFormat().format([USER])
    assert prompt.text == "<start_of_turn>user\nWhat is 2 + 2?<end_of_turn>\n<start_of_turn>model\n"
    assert prompt.stop == ("<end_of_turn>",)
    assert prompt.add_bos is True


def test_gemma_folds_the_system_prompt_into_the_first_user_turn_only() -> None:
    prompt = GemmaFormat().format([SYSTEM, USER, ASSISTANT, FOLLOW_UP])
    assert prompt.text == (
        "<start_of_turn>user\nAnswer with a number.\n\nWhat is 2 + 2?<end_of_turn>\n"
        "<start_of_turn>model\n4<end_of_turn>\n"
        "<start_of_turn>user\nAnd 3 + 3?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert "system" not in prompt.text


def test_gemma_joins_several_system_messages() -> None:
    prompt = GemmaFormat().format([SYSTEM, ChatMessage("system", "Be brief."), USER])
    assert prompt.text.startswith(
        "<start_of_turn>user\nAnswer with a number.\n\nBe brief.\n\nWhat is 2 + 2?"
    )


def test_gemma_renames_assistant_to_model() -> None:
    prompt = GemmaFormat().format([USER, ASSISTANT, FOLLOW_UP])
    assert "<start_of_turn>model\n4<end_of_turn>\n" in prompt.text
    assert "assistant" not in prompt.text


def test_gemma_with_only_a_system_message_lets_it_stand_as_the_user_turn() -> None:
    prompt = GemmaFormat().format([SYSTEM])
    assert prompt.text == (
        "<start_of_turn>user\nAnswer with a number.<end_of_turn>\n<start_of_turn>model\n"
    )


# -- ChatML ------------------------------------------------------------------------------


def test_chatml_keeps_every_role_and_opens_an_assistant_turn() -> None:
    prompt = ChatMLFormat().format([SYSTEM, USER])
    assert prompt.text == (
        "<|im_start|>system\nAnswer with a number.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompt.stop == ("<|im_end|>",)
    assert prompt.add_bos is True


# -- GGUF templates ----------------------------------------------------------------------


def test_gguf_template_that_emits_bos_turns_off_add_bos() -> None:
    prompt = GgufTemplateFormat(TEMPLATE_WITH_BOS, BOS, EOS).format([SYSTEM, USER])
    assert prompt.text == (
        "<s><|system|>Answer with a number.</s><|user|>What is 2 + 2?</s><|assistant|>"
    )
    assert prompt.add_bos is False
    assert prompt.stop == (EOS,)


def test_gguf_template_without_bos_keeps_add_bos() -> None:
    prompt = GgufTemplateFormat(TEMPLATE_WITHOUT_BOS, BOS, EOS).format([USER])
    assert prompt.text == "[user]What is 2 + 2?\n"
    assert prompt.add_bos is True


def test_gguf_template_with_an_empty_bos_text_keeps_add_bos() -> None:
    prompt = GgufTemplateFormat(TEMPLATE_WITHOUT_BOS, "", EOS).format([USER])
    assert prompt.add_bos is True


def test_gguf_template_has_the_gguf_template_name() -> None:
    assert GgufTemplateFormat(TEMPLATE_WITHOUT_BOS, BOS, EOS).name == "gguf-template"


# -- NoChatFormat ------------------------------------------------------------------------


def test_no_chat_format_refuses_chat_and_names_the_architecture() -> None:
    with pytest.raises(InvalidRequest, match="mamba") as info:
        NoChatFormat("mamba").format([USER])
    assert info.value.field == "messages"
    assert "--chat-format" in str(info.value)


# -- choose_chat_format ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "cls"),
    [("gemma", GemmaFormat), ("chatml", ChatMLFormat), ("completion", CompletionFormat)],
)
def test_override_wins_over_template_and_architecture(override: str, cls: type) -> None:
    chosen = choose(override=override, template=TEMPLATE_WITH_BOS, architecture="qwen2")
    assert type(chosen) is cls
    assert chosen.name == override


def test_unknown_override_is_a_value_error_listing_the_known_formats() -> None:
    with pytest.raises(ValueError, match="llama3") as info:
        choose(override="llama3")
    assert "chatml" in str(info.value)
    assert "gemma" in str(info.value)


def test_gguf_template_wins_over_the_architecture() -> None:
    chosen = choose(template=TEMPLATE_WITH_BOS, architecture="gemma3")
    assert isinstance(chosen, GgufTemplateFormat)


@pytest.mark.parametrize(
    ("architecture", "cls"),
    [
        ("gemma", GemmaFormat),
        ("gemma3", GemmaFormat),
        ("qwen2", ChatMLFormat),
        ("qwen3", ChatMLFormat),
    ],
)
def test_architecture_prefix_picks_the_format_without_a_template(
    architecture: str, cls: type
) -> None:
    assert type(choose(architecture=architecture)) is cls
    assert type(choose(template="", architecture=architecture)) is cls


def test_unknown_instruction_tuned_architecture_without_template_refuses_chat() -> None:
    chosen = choose(architecture="llama")
    assert isinstance(chosen, NoChatFormat)
    assert chosen.name == "none"
    with pytest.raises(InvalidRequest, match="llama"):
        chosen.format([USER])


# -- base models: the completion-style transcript -----------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        (),
        ("Gemma 3 270m", "gemma-3"),  # what the bundled model's GGUF says
        ("Llama 3.2 1B", "Llama-3.2", "base"),
        ("Qwen2.5 0.5B", "Qwen2.5", "pretrain"),
    ],
)
def test_a_model_without_template_or_tuning_marker_is_a_base_model(names: tuple) -> None:
    for architecture in ("gemma3", "llama", "mamba"):
        identity = ModelIdentity(architecture=architecture, names=names)
        choice = choose_chat_format(identity)
        assert isinstance(choice.format, CompletionFormat), (architecture, names)
        assert "base model" in choice.reason


@pytest.mark.parametrize(
    "names",
    [
        ("Gemma 3 270m It",),
        ("gemma-3-270m-it",),
        ("SmolLM2 135M", "smollm2", "Instruct"),
        ("Mistral 7B", "mistral", "instruct-v0.3"),
        ("Some 1B", "some", "Chat"),
        ("Tiny", "tiny", "sft-dpo"),
    ],
)
def test_a_tuning_marker_keeps_the_architectures_turns(names: tuple) -> None:
    assert type(choose(architecture="gemma3", names=names)) is GemmaFormat
    assert type(choose(architecture="qwen2", names=names)) is ChatMLFormat


def test_tuning_markers_are_whole_words() -> None:
    # "Smith", "Edit", "Chatter", "Instructor-free"... do not say "instruction-tuned".
    for word in ("Smith 1B", "Edit Model", "Chatterbox", "Fruit"):
        assert not ModelIdentity("llama", names=(word,)).instruction_tuned, word


def test_a_template_wins_over_being_a_base_model() -> None:
    choice = choose_chat_format(ModelIdentity("gemma3", template=TEMPLATE_WITH_BOS))
    assert isinstance(choice.format, GgufTemplateFormat)
    assert choice.reason == "the GGUF's chat template"


def test_completion_transcript_opens_with_the_demonstrations_and_ends_open() -> None:
    demos = (Demonstration("What is 1 + 1?", "2"), Demonstration("Name a fruit.", "An apple."))
    prompt = CompletionFormat(demos, preamble="Short answers.").format([USER])
    assert prompt.text == (
        "Short answers.\n\n"
        "User: What is 1 + 1?\nAssistant: 2\n\n"
        "User: Name a fruit.\nAssistant: An apple.\n\n"
        "User: What is 2 + 2?\nAssistant:"
    )
    assert prompt.strip_leading_space is True
    assert prompt.add_bos is True


def test_completion_stops_at_the_next_turn_marker_blank_line_first() -> None:
    stop = CompletionFormat().format([USER]).stop
    assert stop == ("\n\nUser:", "\nUser:", "\n\nAssistant:", "\nAssistant:")


def test_completion_puts_system_text_after_the_preamble_before_the_examples() -> None:
    prompt = CompletionFormat(DEFAULT_DEMONSTRATIONS[:1], preamble="P.").format(
        [SYSTEM, ChatMessage("system", "Be brief."), USER]
    )
    assert prompt.text.startswith(
        "P.\nAnswer with a number.\nBe brief.\n\nUser: What is the largest planet"
    )
    assert "system:" not in prompt.text.lower()


def test_completion_keeps_a_multi_turn_conversation_in_one_exchange() -> None:
    prompt = CompletionFormat((), preamble="").format([USER, ASSISTANT, FOLLOW_UP])
    assert prompt.text == "User: What is 2 + 2?\nAssistant: 4\nUser: And 3 + 3?\nAssistant:"


def test_completion_without_preamble_or_demonstrations_is_just_the_conversation() -> None:
    assert CompletionFormat((), preamble="").format([USER]).text == (
        "User: What is 2 + 2?\nAssistant:"
    )
