"""The one GBNF grammar a constrained request decodes under, composed from its parts.

The answer is the request's `grammar` (its rule `root`) or its `json_schema` converted
(`json_grammar.py`). Around it, Conclave's own rules (named `conclave-*`, started at
`conclave-root`) add what the request asks for:

- `allow_text`: the reply is the answer, or free text whose first character is not
  `{` nor whitespace (a tool call or a plain answer, decided by the first character);
- `after` (reason first): one paragraph of free text (no line break; it may be empty),
  then a line break, the marker, an optional space and the answer. The reasoning cannot
  end the reply: the line break that would end the paragraph starts the answer, so a
  model that wanted to stop (or to open a new turn) answers instead;
- `leading_space`: the chat format's prompt ends where the reply's first word takes a
  space ("Assistant:"); the engine strips that space from the text, so the grammar
  allows it.

A grammar is complete when its answer is: the end-of-generation token is then the only
way on, and until then it is not allowed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from conclave.errors import InvalidRequest
from conclave.services.engine.json_grammar import schema_to_gbnf
from conclave.services.engine.types import Constraint

ROOT = "conclave-root"
ANSWER_ROOT = "root"  # the rule a request's own grammar starts at
_TEXT_RULES = (
    # Anything but a JSON object's first character or whitespace, then anything.
    "conclave-text ::= [^{ \\t\\r\\n] conclave-char*\nconclave-char ::= [\\U00000001-\\U0010FFFF]"
)
_REASONING_RULE = "conclave-reasoning ::= [^\\n\\r]*"
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True, slots=True)
class GrammarText:
    text: str
    root: str
    field: str  # the request field a failure to parse it is about


def compose(constraint: Constraint, *, leading_space: bool = False) -> GrammarText:
    """The grammar of an active constraint (see the module docstring)."""
    if constraint.json_schema:
        answer_rules, field = schema_to_gbnf(constraint.json_schema), "json_schema"
    else:
        answer_rules, field = constraint.grammar, "grammar"
    body = ANSWER_ROOT
    extra: list[str] = []
    if constraint.allow_text:
        body = f"( {body} | conclave-text )"
        extra.append(_TEXT_RULES)
    if constraint.after:
        body = f'conclave-reasoning "\\n" {literal(constraint.after)} " "? {body}'
        extra.append(_REASONING_RULE)
    if leading_space:
        body = f'" "? {body}'
    rules = "\n".join([answer_rules.rstrip(), f"{ROOT} ::= {body}", *extra])
    return GrammarText(text=rules + "\n", root=ROOT, field=field)


def literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    if any(ord(c) < 0x20 and c not in _ESCAPES for c in text):
        raise InvalidRequest(
            "constrain_after must not hold control characters", field="constrain_after"
        )
    return '"' + "".join(_ESCAPES.get(c, c) for c in text) + '"'
