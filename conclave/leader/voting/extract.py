"""Short-answer extraction: what `majority` and friends compare, never the whole text.

Every mode returns a *normalized* string, so two candidates agree exactly when their
extracted answers are equal.

Normalization ("text"): lowercase, whitespace runs collapsed to one space, surrounding
markdown emphasis/quotes/backticks removed, trailing punctuation (``. , ; : ! ?``)
stripped.

Modes:

- ``number``: the last number in the text. Thousands separators go ("1,000" -> "1000"),
  trailing fractional zeros go ("3.50" -> "3.5", "2.0" -> "2"), and zero has no sign
  ("-0" -> "0"). Only plain decimals count: no exponents, fractions or words.
- ``letter``: an option letter A-E (upper case, so the article "a" is not an option):
  "answer is (B)" / "answer: B" first, then "(B)", "B)", "**B**", "B." or "B:" at the
  start of a line, then a text that is just "B".
- ``first_line``: the first non-empty line, normalized.
- ``text``: the whole text, normalized.
- ``auto``: an explicit final answer wins - the last ``\\boxed{X}``, else the last
  "answer is X" / "answer: X" (X up to the end of its sentence or line); X itself is read
  as an option letter if it is one, else as its number if it holds exactly one, else as
  normalized text (so "\\frac{1}{2}" or "3 and 4" stay whole). Without an explicit
  answer: the last number in the text, then an option letter if the text is or starts
  with one, else the first line.

When ``number`` or ``letter`` finds nothing, the answer is the normalized whole text, so
unparseable answers only agree with literally identical ones (never with each other by
all being "").
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from conclave.errors import InvalidRequest

EXTRACT_MODES: tuple[str, ...] = ("auto", "number", "letter", "first_line", "text")

_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])-?\.\d+")
_WRAPPERS = "*_`\"'“”‘’ "
_TRAILING_PUNCT = ".,;:!?"
_SPACES = re.compile(r"\s+")
# A list item's marker: a small model shown answers as a list may answer as one.
_BULLET = re.compile(r"^[-*•]\s+")

# An option letter standing alone after an explicit "answer" marker.
_LETTER_AFTER_ANSWER = re.compile(r"(?i:answer)\s*(?:is|:|=)?\s*:?\s*[(\[*]*([A-E])(?![\w])")
# An option letter that opens a line: "(B)", "B)", "**B**", "B.", "B:".
_LETTER_AT_LINE_START = re.compile(
    r"^\s*(?:\*\*|__)?[(\[]?([A-E])(?:[)\]]|\*\*|__|[.:](?!\w))", re.MULTILINE
)
_LONE_LETTER = re.compile(r"^[(\[*_\s]*([A-E])[)\]*_.\s]*$")

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_EXPLICIT_ANSWER = re.compile(r"(?i:\banswer)\s*(?:is|:|=)\s*:?[ \t]*([^\n]+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def normalize_text(text: str) -> str:
    """Lowercase, collapse whitespace, drop list markers, emphasis wrappers and trailing
    punctuation."""
    out = _SPACES.sub(" ", text.strip().lower())
    previous = None
    while out != previous:  # "- **Paris.**" needs each kind of stripping, in turns
        previous = out
        out = _BULLET.sub("", out).strip(_WRAPPERS).rstrip(_TRAILING_PUNCT)
    return out


def normalize_number(raw: str) -> str:
    """Canonical spelling of a matched number: no separators, no trailing zeros, no -0."""
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:
        return normalize_text(raw)
    if value == 0:
        return "0"
    # normalize() alone would write 1000 as 1E+3; the "f" format spells it out.
    return format(value.normalize(), "f")


def last_number(text: str) -> str | None:
    matches = _NUMBER.findall(text)
    return normalize_number(matches[-1]) if matches else None


def option_letter(text: str) -> str | None:
    """The option letter a text gives, by the priority in the module docstring."""
    explicit = _LETTER_AFTER_ANSWER.findall(text)
    if explicit:
        return explicit[-1]
    return leading_letter(text)


def leading_letter(text: str) -> str | None:
    """An option letter when the text is one, or its first non-empty line starts with one."""
    stripped = text.strip()
    lone = _LONE_LETTER.match(stripped)
    if lone:
        return lone.group(1)
    first = first_line(stripped)
    match = _LETTER_AT_LINE_START.match(first)
    return match.group(1) if match else None


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def explicit_answer(text: str) -> str | None:
    """The raw X of the last \\boxed{X}, else of the last "answer is X" / "answer: X"."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1]
    stated = _EXPLICIT_ANSWER.findall(text)
    if not stated:
        return None
    # "The answer is Paris. It is the capital." -> "Paris."; "3.5" survives (no space).
    return _SENTENCE_END.split(stated[-1].strip(), maxsplit=1)[0]


def _read_explicit(raw: str) -> str:
    letter = leading_letter(raw)
    if letter is not None:
        return letter
    numbers = _NUMBER.findall(raw)
    # One number is the answer ("$1,000 dollars"); several make a structured answer
    # ("\frac{1}{2}", "3 and 4") that only agrees with the same text.
    return normalize_number(numbers[0]) if len(numbers) == 1 else normalize_text(raw)


def extract_answer(text: str, mode: str = "auto") -> str:
    """The normalized short answer of `text` under `mode` (see the module docstring)."""
    if mode == "text":
        return normalize_text(text)
    if mode == "first_line":
        return normalize_text(first_line(text))
    if mode == "number":
        number = last_number(text)
        return number if number is not None else normalize_text(text)
    if mode == "letter":
        letter = option_letter(text)
        return letter if letter is not None else normalize_text(text)
    if mode == "auto":
        return _extract_auto(text)
    raise InvalidRequest(
        f"unknown answer extraction mode {mode!r}; known: {', '.join(EXTRACT_MODES)}",
        field="extract",
    )


def _extract_auto(text: str) -> str:
    explicit = explicit_answer(text)
    if explicit is not None and explicit.strip():
        return _read_explicit(explicit)
    number = last_number(text)
    if number is not None:
        return number
    letter = leading_letter(text)
    if letter is not None:
        return letter
    return normalize_text(first_line(text))
