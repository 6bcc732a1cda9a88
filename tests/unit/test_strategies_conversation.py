"""The `parallel`, `round_robin` and `moa` round strategies on AutoGen's replay client:
turns, transcripts, params, and a whole round through the RoundRunner and its store."""

from __future__ import annotations

import pytest
from autogen_ext.models.replay import ReplayChatCompletionClient

from conclave.agents.rpc import AgentClients
from conclave.errors import InvalidRequest, Unavailable
from conclave.leader.conversation.runner import AgentServiceClients
from conclave.leader.discovery import AgentDirectory
from conclave.leader.events import CandidateDone, CandidateText, RoundDecided
from conclave.leader.participants import ParticipantRegistry
from conclave.leader.rounds import RoundContext, RoundRunner
from conclave.leader.settings import ParticipantConfig
from conclave.leader.store import RoundStore
from conclave.leader.strategies import conversation_strategies
from conclave.leader.strategies.moa import MixtureOfAgentsStrategy
from conclave.leader.strategies.parallel import ParallelStrategy
from conclave.leader.strategies.round_robin import RoundRobinStrategy
from conclave.leader.types import Participant, RoundRequest
from conclave.leader.voting import VoteParams
from conclave.services.engine.types import SamplingParams

pytestmark = pytest.mark.timeout(30)

NAMES = ("solver", "skeptic", "checker")
QUESTION = "What is 2+2?"


class Scripted(ReplayChatCompletionClient):
    """Replays its replies and records every prompt; fails the calls in `fail_on`."""

    def __init__(self, replies, fail_on=()):
        super().__init__(replies)
        self.prompts = []
        self._fail_on = set(fail_on)

    async def create_stream(self, messages, **kwargs):
        call = len(self.prompts)
        self.prompts.append(list(messages))
        if call in self._fail_on:
            raise Unavailable("agent down")
        async for item in super().create_stream(messages, **kwargs):
            yield item


class ReplaySource:
    """A ClientSource of scripted clients, by participant name."""

    def __init__(self, scripts, fail_on=None):
        self.scripts = scripts
        self.fail_on = fail_on or {}
        self.clients = {}
        self.sampling = {}
        self.closed = False

    def client(self, participant, sampling, timeout_s):
        c = Scripted(self.scripts[participant.name], self.fail_on.get(participant.name, ()))
        self.clients[participant.name] = c
        self.sampling[participant.name] = sampling
        return c

    async def close(self):
        self.closed = True


def context(strategy, params=None, *, seed=None, stop=(), names=NAMES):
    events = []
    ctx = RoundContext(
        round_id="r1",
        request=RoundRequest(
            messages=(("user", QUESTION),),
            strategy=strategy,
            max_tokens=32,
            seed=seed,
            stop=stop,
            params=dict(params or {}),
        ),
        participants=[
            Participant(name=n, address=f"10.0.0.{i}:50051", seed_offset=i)
            for i, n in enumerate(names)
        ],
        clients=AgentClients(),
        emit=events.append,
        vote_params=VoteParams(),
    )
    return ctx, events


def disagreeing(turns=2):
    return {
        n: [f"{n} turn {t}: Answer: {i + t}" for t in range(turns)] for i, n in enumerate(NAMES)
    }


async def test_parallel_runs_an_answer_turn_and_a_critique_turn_and_votes_on_the_last():
    source = ReplaySource(disagreeing())
    ctx, events = context("parallel")
    voters = await ParallelStrategy(lambda _: source)(ctx)
    assert [(c.turn, c.participant) for c in ctx.candidates] == [
        (t, n) for t in (0, 1) for n in NAMES
    ]
    assert voters == ctx.candidates[3:]
    assert set(ctx.timings) == {"turn_0_ms", "turn_1_ms"}
    assert sum(isinstance(e, CandidateDone) for e in events) == 6
    assert any(isinstance(e, CandidateText) and e.turn == 1 for e in events)
    assert source.closed
    critique = source.clients["skeptic"].prompts[1]
    assert critique[1].content == "skeptic turn 0: Answer: 1"  # its own, as the assistant turn
    assert "- solver turn 0: Answer: 0\n- checker turn 0" in critique[2].content


async def test_parallel_stops_when_the_first_answers_agree():
    source = ReplaySource({n: ["The answer is 4.", "unused"] for n in NAMES})
    ctx, _ = context("parallel", {"critique_rounds": "3"})
    voters = await ParallelStrategy(lambda _: source)(ctx)
    assert [c.turn for c in ctx.candidates] == [0, 0, 0]
    assert voters == ctx.candidates


async def test_parallel_can_be_told_not_to_stop_on_agreement():
    source = ReplaySource({n: ["4", "4", "4"] for n in NAMES})
    ctx, _ = context("parallel", {"critique_rounds": "2", "stop_on_agreement": "false"})
    await ParallelStrategy(lambda _: source)(ctx)
    assert sorted({c.turn for c in ctx.candidates}) == [0, 1, 2]


async def test_parallel_with_no_critique_rounds_is_one_concurrent_turn():
    source = ReplaySource(disagreeing())
    ctx, _ = context("parallel", {"critique_rounds": "0"})
    await ParallelStrategy(lambda _: source)(ctx)
    assert [c.turn for c in ctx.candidates] == [0, 0, 0]


async def test_participants_keep_their_own_sampling_and_seeds():
    source = ReplaySource(disagreeing())
    ctx, _ = context("parallel", seed=100, stop=("\n\n",))
    await ParallelStrategy(lambda _: source)(ctx)
    assert [source.sampling[n].seed for n in NAMES] == [100, 101, 102]
    assert {source.sampling[n].max_tokens for n in NAMES} == {32}
    assert {source.sampling[n].stop for n in NAMES} == {("\n\n",)}


async def test_agent_service_clients_carry_the_participants_persona_model_and_sampling():
    source = AgentServiceClients(AgentClients())
    participant = Participant(
        name="skeptic", address="10.0.0.1:50051", system_prompt="Doubt.", model="gemma-b"
    )
    sampling = SamplingParams(max_tokens=48, temperature=0.2, top_p=0.9, seed=5, stop=("\n",))
    client = source.client(participant, sampling, 30.0)
    assert client.config.model_dump() == {
        "address": "10.0.0.1:50051",
        "participant": "skeptic",
        "system_prompt": "Doubt.",
        "model": "gemma-b",  # a multi-model agent answers with the participant's model
        "max_tokens": 48,
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 5,
        "stop": ["\n"],
        "timeout_s": 30.0,
        "context_size": None,
    }
    await source.close()


@pytest.mark.parametrize(
    ("strategy", "params", "field"),
    [
        (ParallelStrategy, {"critique_rounds": "two"}, "params.critique_rounds"),
        (ParallelStrategy, {"critique_rounds": "-1"}, "params.critique_rounds"),
        (ParallelStrategy, {"critique_rounds": "99"}, "params.critique_rounds"),
        (ParallelStrategy, {"stop_on_agreement": "maybe"}, "params.stop_on_agreement"),
        (RoundRobinStrategy, {"critique_rounds": "1.5"}, "params.critique_rounds"),
        (MixtureOfAgentsStrategy, {"layers": "0"}, "params.layers"),
        (MixtureOfAgentsStrategy, {"aggregator": "nobody"}, "params.aggregator"),
    ],
)
async def test_bad_strategy_params_are_invalid_requests_naming_the_key(strategy, params, field):
    source = ReplaySource(disagreeing())
    ctx, _ = context("x", params)
    with pytest.raises(InvalidRequest) as info:
        await strategy(lambda _: source)(ctx)
    assert info.value.field == field
    assert ctx.candidates == []


async def test_round_robin_chains_the_speakers_and_votes_on_the_last_pass():
    source = ReplaySource(disagreeing())
    ctx, _ = context("round_robin")
    voters = await RoundRobinStrategy(lambda _: source)(ctx)
    assert [(c.turn, c.participant) for c in ctx.candidates] == [
        (t, n) for t in (0, 1) for n in NAMES
    ]
    assert voters == ctx.candidates[3:]
    first = source.clients["solver"].prompts[0]
    assert [m.content for m in first] == [QUESTION]  # the first speaker just answers
    second = source.clients["skeptic"].prompts[0][-1].content
    assert "- solver turn 0" in second and "checker" not in second
    # In the second pass the first speaker sees both later answers of the first pass.
    again = source.clients["solver"].prompts[1][-1].content
    assert "- skeptic turn 0" in again and "- checker turn 0" in again
    assert set(ctx.timings) == {"turn_0_ms", "turn_1_ms"}


async def test_moa_proposes_in_parallel_and_the_first_participant_aggregates():
    scripts = {n: [f"{n} proposes {i}", f"{n} aggregates"] for i, n in enumerate(NAMES)}
    source = ReplaySource(scripts)
    ctx, _ = context("moa")
    voters = await MixtureOfAgentsStrategy(lambda _: source)(ctx)
    assert [(c.turn, c.participant) for c in ctx.candidates] == [
        (0, "solver"),
        (0, "skeptic"),
        (0, "checker"),
        (1, "solver"),
    ]
    assert voters == [ctx.candidates[3]]
    prompt = source.clients["solver"].prompts[1]
    assert len(prompt) == 1 and prompt[0].content.startswith(QUESTION)
    for i, n in enumerate(NAMES):
        assert f"- {n} proposes {i}\n" in prompt[0].content


async def test_moa_layers_and_a_chosen_aggregator():
    scripts = {n: [f"{n} a", f"{n} b", f"{n} c"] for n in NAMES}
    source = ReplaySource(scripts)
    ctx, _ = context("moa", {"layers": "2", "aggregator": "checker"})
    voters = await MixtureOfAgentsStrategy(lambda _: source)(ctx)
    assert [c.turn for c in ctx.candidates] == [0, 0, 0, 1, 1, 1, 2]
    assert voters[0].participant == "checker" and voters[0].turn == 2
    layer_two = source.clients["skeptic"].prompts[1][0].content
    assert "- solver a\n" in layer_two and "- skeptic a\n" in layer_two
    final = source.clients["checker"].prompts[2][0].content
    assert "solver b" in final and "solver a" not in final


async def test_moa_falls_back_to_the_proposals_when_the_aggregation_fails():
    scripts = {n: ["4", "x"] for n in NAMES}
    source = ReplaySource(scripts, fail_on={"solver": {1}})
    ctx, _ = context("moa")
    voters = await MixtureOfAgentsStrategy(lambda _: source)(ctx)
    assert ctx.candidates[-1].finish_reason == "error"
    assert voters == ctx.candidates[:3]


def test_the_leader_gets_the_three_conversation_strategies():
    assert set(conversation_strategies()) == {"parallel", "round_robin", "moa"}


async def test_a_parallel_round_through_the_runner_is_decided_and_stored(tmp_path):
    sources = []

    def source(_):
        sources.append(ReplaySource(disagreeing()))
        return sources[-1]

    store = RoundStore.open(tmp_path / "rounds.db")
    registry = ParticipantRegistry(
        AgentDirectory(),
        configured=[ParticipantConfig(name=n, address="10.0.0.1:50051") for n in NAMES],
        per_agent=1,
    )
    runner = RoundRunner(
        clients=AgentClients(),
        store=store,
        participants=registry,
        strategies={"parallel": ParallelStrategy(source)},
    )
    try:
        request = RoundRequest(messages=(("user", QUESTION),), strategy="parallel", quorum=3)
        events = [e async for e in runner.run(request)]
        record = events[-1].record
        assert isinstance(events[-1], RoundDecided) and record.status == "decided"
        assert len(record.candidates) == 6
        assert record.decision.winner is not None and record.decision.winner >= 3
        assert record.candidates[record.decision.winner].turn == 1
        stored = await store.get_async(record.id)
        assert [(c.turn, c.participant) for c in stored.candidates] == [
            (c.turn, c.participant) for c in record.candidates
        ]
        assert set(stored.timings) == {"turn_0_ms", "turn_1_ms"}
    finally:
        store.close()
