"""Conversation strategies through a real leader on a real agent service.

Three participants wearing the ready-made personas share the session's agent (4 slots),
so a concurrent turn batches there. The model is tiny: these tests check mechanics —
turns, records, timings, decisions — never the quality of the answers.
"""

from __future__ import annotations

import logging

import grpc
import pytest

from conclave.leader.settings import ParticipantConfig
from conclave.v1 import agent_pb2, agent_pb2_grpc, leader_pb2, leader_pb2_grpc
from tests.support.servers import RunningAgent, RunningLeader, agent_settings, leader_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

log = logging.getLogger(__name__)

NAMES = ("solver", "skeptic", "fact-checker")
QUESTION = [agent_pb2.ChatMessage(role="user", content="What is 12 + 30? Answer with a number.")]


@pytest.fixture(scope="module")
def stub(agent, tmp_path_factory):
    participants = [
        ParticipantConfig(
            name=name, address=agent.address, persona=name, seed_offset=i
        ).model_dump()
        for i, name in enumerate(NAMES)
    ]
    db = tmp_path_factory.mktemp("strategies") / "rounds.db"
    with (
        RunningLeader(leader_settings(db, participants=participants)) as leader,
        grpc.insecure_channel(leader.address) as channel,
    ):
        yield leader_pb2_grpc.LeaderServiceStub(channel)


def run_round(stub, strategy: str, **fields) -> list[leader_pb2.RoundEvent]:
    request = leader_pb2.RunRoundRequest(
        **{"messages": QUESTION, "strategy": strategy, "max_tokens": 16, "seed": 11, **fields}
    )
    return list(stub.RunRound(request, timeout=180))


def turns_of(decided: leader_pb2.Round) -> dict[int, list[leader_pb2.Candidate]]:
    turns: dict[int, list[leader_pb2.Candidate]] = {}
    for c in decided.candidates:
        turns.setdefault(c.turn, []).append(c)
    return turns


def log_turns(strategy: str, decided: leader_pb2.Round) -> None:
    for turn, candidates in sorted(turns_of(decided).items()):
        log.info(
            "%s turn %d: wall %.0f ms; generation %s",
            strategy,
            turn,
            decided.timings[f"turn_{turn}_ms"],
            ", ".join(f"{c.participant} {c.generation_ms:.0f} ms" for c in candidates),
        )


def assert_streamed_as_recorded(events: list[leader_pb2.RoundEvent]) -> None:
    decided = events[-1].decided
    streamed = [e.candidate.candidate for e in events if e.HasField("candidate")]
    key = lambda c: (c.turn, c.participant)  # noqa: E731
    assert sorted(streamed, key=key) == sorted(decided.candidates, key=key)
    assert {e.delta.turn for e in events if e.HasField("delta")} == set(turns_of(decided))


def test_a_parallel_round_records_six_turns_runs_each_turn_concurrently_and_decides(stub):
    events = run_round(
        stub, "parallel", params={"critique_rounds": "1", "stop_on_agreement": "false"}
    )
    decided = events[-1].decided
    assert decided.status == "decided", decided.error
    assert [(c.turn, c.participant) for c in decided.candidates] == [
        (t, n) for t in (0, 1) for n in NAMES
    ]
    assert all(c.finish_reason in ("stop", "length") for c in decided.candidates)
    assert all(c.prompt_tokens > 0 and c.generation_ms > 0 for c in decided.candidates)
    # Critique turns carry the others' answers: longer prompts than the question alone.
    turns = turns_of(decided)
    for first, second in zip(turns[0], turns[1], strict=True):
        assert second.prompt_tokens > first.prompt_tokens
    assert decided.decision.HasField("winner")
    assert decided.candidates[decided.decision.winner].turn == 1  # the vote is on the last turn
    assert_streamed_as_recorded(events)
    assert stub.GetRound(leader_pb2.GetRoundRequest(id=decided.id), timeout=10) == decided

    log_turns("parallel", decided)
    for turn, candidates in turns.items():
        wall = decided.timings[f"turn_{turn}_ms"]
        generation = [c.generation_ms for c in candidates]
        log.info(
            "parallel turn %d: wall / slowest %.2f, wall / sum %.2f",
            turn,
            wall / max(generation),
            wall / sum(generation),
        )
        # Concurrent: as long as the slowest participant, far less than all of them in a row.
        assert wall >= 0.9 * max(generation)
        assert wall < 0.8 * sum(generation)


def test_a_round_robin_round_chains_the_participants_and_decides(stub):
    events = run_round(stub, "round_robin", params={"critique_rounds": "1"})
    decided = events[-1].decided
    assert decided.status == "decided", decided.error
    assert [(c.turn, c.participant) for c in decided.candidates] == [
        (t, n) for t in (0, 1) for n in NAMES
    ]
    assert decided.candidates[decided.decision.winner].turn == 1
    assert_streamed_as_recorded(events)
    log_turns("round_robin", decided)
    # One after another: a pass takes as long as all of its generations together.
    first_pass = turns_of(decided)[0]
    assert decided.timings["turn_0_ms"] >= 0.9 * sum(c.generation_ms for c in first_pass)


def test_a_moa_round_is_decided_by_the_aggregator(stub):
    events = run_round(stub, "moa", params={"aggregator": "skeptic"})
    decided = events[-1].decided
    assert decided.status == "decided", decided.error
    assert [(c.turn, c.participant) for c in decided.candidates] == [
        (0, "solver"),
        (0, "skeptic"),
        (0, "fact-checker"),
        (1, "skeptic"),
    ]
    assert decided.decision.winner == 3
    assert decided.text == decided.candidates[3].text
    # The aggregator read every proposal: its prompt is the longest of the round.
    assert decided.candidates[3].prompt_tokens > max(
        c.prompt_tokens for c in decided.candidates[:3]
    )
    assert_streamed_as_recorded(events)
    log_turns("moa", decided)


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("parallel", {"critique_rounds": "many"}),
        ("round_robin", {"critique_rounds": "99"}),
        ("moa", {"aggregator": "nobody"}),
    ],
)
def test_bad_strategy_params_are_invalid_arguments(stub, strategy, params):
    with pytest.raises(grpc.RpcError) as info:
        run_round(stub, strategy, params=params)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "params." in info.value.details()


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """An agent serving the bundled GGUF as two models, and a leader whose participant
    speaks through the second one (not the agent's default)."""
    settings = agent_settings(
        name="two-models",
        models=[
            {"id": "gemma-a", "path": "bundled", "slots": 2, "context_size": 1024},
            {"id": "gemma-b", "path": "bundled", "slots": 2, "context_size": 1024},
        ],
        memory_budget_bytes=4 * 2**30,
    )
    db = tmp_path_factory.mktemp("two-models") / "rounds.db"
    with RunningAgent(settings) as agent:
        participants = [{"name": "on-b", "address": agent.address, "model": "gemma-b"}]
        with (
            RunningLeader(leader_settings(db, participants=participants)) as leader,
            grpc.insecure_channel(leader.address) as leader_channel,
            grpc.insecure_channel(agent.address) as agent_channel,
        ):
            yield (
                leader_pb2_grpc.LeaderServiceStub(leader_channel),
                agent_pb2_grpc.AgentServiceStub(agent_channel),
            )


@pytest.mark.parametrize("strategy", ["vote", "parallel", "round_robin", "moa"])
def test_every_strategy_asks_the_participants_own_model(two_models, strategy):
    leader, agent = two_models

    def last_used() -> dict[str, float]:
        return {m.id: m.last_used_unix for m in agent.GetInfo(agent_pb2.GetInfoRequest()).models}

    before = last_used()
    params = {"critique_rounds": "1"} if strategy in ("parallel", "round_robin") else {}
    events = run_round(leader, strategy, participants=["on-b"], params=params)
    assert events[-1].decided.status == "decided", events[-1].decided.error
    after = last_used()
    assert after["gemma-b"] > before["gemma-b"], "the participant's model did not answer"
    assert after["gemma-a"] == before["gemma-a"], "the agent's default model answered"


def test_each_voices_critique_turn_finds_its_own_first_turn_in_the_agents_cache(tmp_path):
    # A voice's turns all go to its own agent, and there the critique prompt (its first
    # turn, its answer, then the others' answers) takes the slot that holds that history.
    # A fresh agent: its slots hold nothing yet, and the personas differ from the first
    # words on, so only that history can be found in them.
    fresh = RunningAgent(agent_settings(name="fresh", slots=4))
    with fresh, grpc.insecure_channel(fresh.address) as channel:
        participants = [
            ParticipantConfig(
                name=name, address=fresh.address, persona=name, seed_offset=i
            ).model_dump()
            for i, name in enumerate(NAMES)
        ]
        settings = leader_settings(tmp_path / "rounds.db", participants=participants)
        with (
            RunningLeader(settings) as leader,
            grpc.insecure_channel(leader.address) as leader_channel,
        ):
            events = run_round(
                leader_pb2_grpc.LeaderServiceStub(leader_channel),
                "parallel",
                params={"critique_rounds": "1", "stop_on_agreement": "false"},
            )
        info = agent_pb2_grpc.AgentServiceStub(channel).GetInfo(
            agent_pb2.GetInfoRequest(), timeout=10
        )
    turns = turns_of(events[-1].decided)
    # Without the history a critique prompt would find at most the chat format's opening
    # line (a few dozen tokens) in a slot.
    assert info.prompt_tokens_cached_total >= sum(c.prompt_tokens for c in turns[0])
    assert info.prompt_tokens_cached_total + info.prompt_tokens_prefilled_total == sum(
        c.prompt_tokens for t in turns.values() for c in t
    )
    # Each candidate says what of its prompt was cached, and they add up to the agent's count.
    every = [c for t in turns.values() for c in t]
    assert sum(c.cached_prompt_tokens for c in every) == info.prompt_tokens_cached_total
    first = {c.participant: c.prompt_tokens for c in turns[0]}
    for c in turns[1]:
        assert first[c.participant] <= c.cached_prompt_tokens < c.prompt_tokens
