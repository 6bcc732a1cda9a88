"""ParticipantRegistry over an AgentDirectory: who may speak, and by what name."""

from __future__ import annotations

import pytest

from conclave.errors import NotFound, Unavailable
from conclave.leader.discovery import AgentDirectory, AgentEntry
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.settings import ParticipantConfig


def entry(name: str, address: str, source: str = "static", **extra: object) -> AgentEntry:
    return AgentEntry(address=address, name=name, source=source, **extra)


def directory(*entries: AgentEntry) -> AgentDirectory:
    d = AgentDirectory()
    for e in entries:
        d.add(e)
    return d


def registry(
    d: AgentDirectory, configured: list[ParticipantConfig] | None = None, per_agent: int = 1
) -> ParticipantRegistry:
    return ParticipantRegistry(d, configured=configured or [], per_agent=per_agent)


def names(reg: ParticipantRegistry) -> list[str]:
    return [p.name for p in reg.all()]


# -- AgentDirectory ----------------------------------------------------------------------


def test_directory_lists_entries_sorted_by_name_then_address() -> None:
    d = directory(entry("b", "h2:1"), entry("a", "h3:1"), entry("a", "h1:1"))
    assert [(e.name, e.address) for e in d.entries()] == [
        ("a", "h1:1"),
        ("a", "h3:1"),
        ("b", "h2:1"),
    ]


def test_directory_add_replaces_the_entry_at_the_same_address() -> None:
    d = directory(entry("old", "h:1"))
    d.add(entry("new", "h:1", model="gemma"))
    assert d.entries() == [entry("new", "h:1", model="gemma")]


def test_directory_remove_respects_the_source() -> None:
    d = directory(entry("a", "h:1", source="zeroconf"))
    d.remove("h:1", source="kubernetes")
    assert len(d.entries()) == 1
    d.remove("h:1", source="zeroconf")
    assert d.entries() == []
    d.remove("h:1")  # unknown address: no error


def test_replace_source_makes_that_source_exactly_the_given_entries() -> None:
    d = directory(
        entry("static", "s:1", source="static"),
        entry("k1", "k1:1", source="kubernetes"),
        entry("k2", "k2:1", source="kubernetes"),
        entry("z", "z:1", source="zeroconf"),
    )
    d.replace_source(
        "kubernetes",
        [entry("k2b", "k2:1", source="kubernetes"), entry("k3", "k3:1", source="kubernetes")],
    )
    assert [(e.name, e.source) for e in d.entries()] == [
        ("k2b", "kubernetes"),
        ("k3", "kubernetes"),
        ("static", "static"),
        ("z", "zeroconf"),
    ]


def test_replace_source_with_nothing_drops_only_that_source() -> None:
    d = directory(entry("s", "s:1"), entry("k", "k:1", source="kubernetes"))
    d.replace_source("kubernetes", [])
    assert [e.name for e in d.entries()] == ["s"]


# -- ParticipantRegistry.all -------------------------------------------------------------


def test_one_voice_per_agent_named_after_the_agent() -> None:
    reg = registry(directory(entry("blade2", "h2:1"), entry("blade1", "h1:1")))
    people = reg.all()
    assert [(p.name, p.address, p.agent, p.seed_offset) for p in people] == [
        ("blade1", "h1:1", "blade1", 0),
        ("blade2", "h2:1", "blade2", 0),
    ]


def test_extra_voices_are_numbered_and_get_their_own_seed_offsets() -> None:
    reg = registry(directory(entry("blade", "h:1")), per_agent=3)
    people = reg.all()
    assert [(p.name, p.seed_offset) for p in people] == [
        ("blade", 0),
        ("blade-2", 1),
        ("blade-3", 2),
    ]
    assert {p.address for p in people} == {"h:1"}
    assert {p.service for p in people} == {"blade"}


def test_configured_participants_come_first_in_config_order() -> None:
    configured = [
        ParticipantConfig(
            name="skeptic",
            address="h2:1",
            system_prompt="Doubt it.",
            weight=2.0,
            temperature=0.1,
            top_p=0.5,
            max_tokens=9,
            seed_offset=7,
        ),
        ParticipantConfig(name="believer", address="h9:1"),
    ]
    reg = registry(directory(entry("blade1", "h1:1"), entry("blade2", "h2:1")), configured)
    people = reg.all()
    assert [p.name for p in people] == ["skeptic", "believer", "blade1"]
    skeptic = people[0]
    assert skeptic.agent == "blade2"  # the directory knows the service at its address
    assert (skeptic.system_prompt, skeptic.weight, skeptic.temperature) == ("Doubt it.", 2.0, 0.1)
    assert (skeptic.top_p, skeptic.max_tokens, skeptic.seed_offset) == (0.5, 9, 7)
    assert people[1].agent == ""  # not (yet) in the directory
    assert people[1].service == "h9:1"


def test_an_agent_covered_by_a_configured_participant_gets_no_extra_voices() -> None:
    configured = [ParticipantConfig(name="persona", address="h1:1")]
    reg = registry(directory(entry("blade1", "h1:1")), configured, per_agent=3)
    assert names(reg) == ["persona"]


def test_a_name_clash_with_a_configured_participant_adds_the_address() -> None:
    configured = [ParticipantConfig(name="blade", address="elsewhere:1")]
    reg = registry(directory(entry("blade", "h:1")), configured, per_agent=2)
    assert names(reg) == ["blade", "blade@h:1", "blade@h:1-2"]


def test_two_agents_with_one_name_get_distinct_participant_names() -> None:
    reg = registry(directory(entry("agent", "h1:1"), entry("agent", "h2:1")), per_agent=2)
    assert names(reg) == ["agent", "agent-2", "agent@h2:1", "agent@h2:1-2"]


def test_numbered_voices_never_duplicate_an_existing_name() -> None:
    configured = [ParticipantConfig(name="alpha-2", address="elsewhere:1")]
    reg = registry(directory(entry("alpha", "h:1")), configured, per_agent=2)
    all_names = names(reg)
    assert len(all_names) == len(set(all_names)), all_names


def test_an_empty_directory_without_configuration_has_nobody() -> None:
    assert registry(AgentDirectory()).all() == []


# -- ParticipantRegistry.select ----------------------------------------------------------


def test_select_nothing_means_everyone() -> None:
    reg = registry(directory(entry("a", "h1:1"), entry("b", "h2:1")))
    assert [p.name for p in reg.select([])] == ["a", "b"]


def test_select_returns_the_named_in_request_order_without_duplicates() -> None:
    reg = registry(directory(entry("a", "h1:1"), entry("b", "h2:1"), entry("c", "h3:1")))
    assert [p.name for p in reg.select(["c", "a", "c"])] == ["c", "a"]


def test_select_an_unknown_name_lists_the_missing_and_the_live_ones() -> None:
    reg = registry(directory(entry("a", "h1:1"), entry("b", "h2:1")))
    with pytest.raises(NotFound) as info:
        reg.select(["a", "zed", "why"])
    message = str(info.value)
    assert "zed, why" in message
    assert "live participants: a, b" in message


def test_select_with_an_empty_directory_is_unavailable() -> None:
    with pytest.raises(Unavailable, match="no agent services"):
        registry(AgentDirectory()).select([])
    with pytest.raises(Unavailable):
        registry(AgentDirectory()).select(["a"])


def test_configured_participants_are_selectable_without_any_directory_entry() -> None:
    configured = [ParticipantConfig(name="p", address="h:1")]
    assert [p.name for p in registry(AgentDirectory(), configured).select(["p"])] == ["p"]


def test_the_registry_follows_the_live_directory() -> None:
    d = directory(entry("a", "h1:1"))
    reg = registry(d)
    assert names(reg) == ["a"]
    d.add(entry("b", "h2:1", source="zeroconf"))
    assert names(reg) == ["a", "b"]
    d.remove("h1:1")
    assert names(reg) == ["b"]


def test_voices_of_an_agent_take_the_voice_models_in_turn() -> None:
    d = directory(entry("a", "h1:1"), entry("b", "h2:1"))
    reg = ParticipantRegistry(d, configured=[], per_agent=3, voice_models=["gemma", "smol"])
    assert [(p.name, p.model) for p in reg.all()] == [
        ("a", "gemma"),
        ("a-2", "smol"),
        ("a-3", "gemma"),
        ("b", "gemma"),
        ("b-2", "smol"),
        ("b-3", "gemma"),
    ]


def test_without_voice_models_every_voice_asks_for_the_agent_default() -> None:
    reg = registry(directory(entry("a", "h1:1")), per_agent=2)
    assert [p.model for p in reg.all()] == ["", ""]


def test_voice_models_are_comma_separated_in_the_environment(monkeypatch) -> None:
    from conclave.leader.settings import LeaderSettings

    monkeypatch.setenv("CONCLAVE_LEADER_VOICE_MODELS", "gemma, smol")
    assert LeaderSettings().voice_models == ["gemma", "smol"]
