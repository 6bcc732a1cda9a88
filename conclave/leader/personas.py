"""Ready-made personas: a system message and sampling overrides, named for config files.

A participant's persona is plain data on the participant (`system_prompt`, `temperature`,
`top_p`), so any text works; these are the documented set a config may name instead of
writing one. Every persona ends its replies with "Answer: ...", which is what the voting
methods' answer extraction reads first.

A persona fills only what the participant leaves unset: a config that names a persona
and also sets `temperature` keeps its own temperature. It is applied in one place, when
a `ParticipantConfig` is read (`conclave.leader.settings`), whoever builds one: the
leader's config file, an experiment's named participants, a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from conclave.errors import InvalidRequest

ANSWER_LINE = 'End with a line "Answer: <your final answer>".'


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    description: str  # for people choosing one
    system_prompt: str
    temperature: float | None = None
    top_p: float | None = None


PERSONAS: Mapping[str, Persona] = MappingProxyType(
    {
        p.name: p
        for p in (
            Persona(
                name="solver",
                description="works the problem out step by step",
                system_prompt=(
                    "You are a careful problem solver. Work through the question step by "
                    f"step, briefly, and commit to one answer. {ANSWER_LINE}"
                ),
                temperature=0.3,
            ),
            Persona(
                name="skeptic",
                description="distrusts the obvious answer and looks for the catch",
                system_prompt=(
                    "You are a skeptic. Distrust the first, obvious answer, including your "
                    "own: look for the trap, the unstated assumption, the arithmetic slip. "
                    f"Keep only the answer you can defend. {ANSWER_LINE}"
                ),
                temperature=0.8,
            ),
            Persona(
                name="fact-checker",
                description="verifies facts and each calculation before answering",
                system_prompt=(
                    "You are a fact-checker. Verify every fact and recompute every "
                    "calculation before you state it; say plainly when something cannot be "
                    f"verified. Be brief. {ANSWER_LINE}"
                ),
                temperature=0.2,
            ),
        )
    }
)


def get_persona(name: str) -> Persona:
    try:
        return PERSONAS[name]
    except KeyError:
        raise InvalidRequest(
            f"unknown persona {name!r}; known: {', '.join(PERSONAS)}", field="persona"
        ) from None


def persona_fields(name: str) -> dict[str, Any]:
    """The ParticipantConfig fields a persona sets (those it leaves unset are absent)."""
    persona = get_persona(name)
    fields: dict[str, Any] = {"system_prompt": persona.system_prompt}
    if persona.temperature is not None:
        fields["temperature"] = persona.temperature
    if persona.top_p is not None:
        fields["top_p"] = persona.top_p
    return fields
