"""The ready-made personas, applied once: when a participant's config is read."""

from __future__ import annotations

import pytest

from conclave.errors import InvalidRequest
from conclave.leader.personas import PERSONAS, get_persona
from conclave.leader.settings import ParticipantConfig


def test_personas_are_named_and_end_with_an_answer_line():
    assert set(PERSONAS) == {"solver", "skeptic", "fact-checker"}
    for persona in PERSONAS.values():
        assert "Answer: <your final answer>" in persona.system_prompt
    with pytest.raises(InvalidRequest, match="known: solver"):
        get_persona("oracle")


def test_a_persona_fills_only_what_a_participant_leaves_unset():
    config = ParticipantConfig(name="doubter", address="h:1", persona="skeptic", temperature=0.1)
    assert config.system_prompt == get_persona("skeptic").system_prompt
    assert config.temperature == 0.1
    worn = ParticipantConfig(name="p", address="h:1", persona="fact-checker")
    assert worn.system_prompt.startswith("You are a fact-checker")
    assert worn.temperature == get_persona("fact-checker").temperature
    own = ParticipantConfig(
        name="p", address="h:1", system_prompt="Mine.", temperature=1.5, persona="solver"
    )
    assert own.system_prompt == "Mine." and own.temperature == 1.5


def test_an_unknown_persona_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown persona 'oracle'; known: solver"):
        ParticipantConfig(name="p", address="h:1", persona="oracle")
