"""The concurrent team, deterministically, on AutoGen's ReplayChatCompletionClient."""

from __future__ import annotations

import asyncio

import pytest
from autogen_agentchat.base import TerminationCondition
from autogen_agentchat.messages import StopMessage, TextMessage
from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage
from autogen_ext.models.replay import ReplayChatCompletionClient

from conclave.agents.team import ConcurrentGroupChat
from conclave.errors import Overloaded, Unavailable
from conclave.leader.conversation.participant import ConclaveParticipant
from conclave.leader.conversation.termination import AgreementTermination
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.events import CandidateDone, CandidateText

pytestmark = pytest.mark.timeout(30)

NAMES = ("a", "b", "c")


class Scripted(ReplayChatCompletionClient):
    """Replays its replies, records every prompt, and may first wait at a barrier
    (which only opens when every participant of a turn is generating at once)."""

    def __init__(self, replies, *, barrier=None, fail_on=None, hang_on=None, error=None):
        super().__init__(replies)
        self.prompts = []
        self._barrier = barrier
        self._fail_on = fail_on
        self._hang_on = hang_on
        self._error = error or Unavailable("agent 10.0.0.9:50051: UNAVAILABLE: connection refused")

    async def create_stream(self, messages, **kwargs):
        call = len(self.prompts)
        self.prompts.append(list(messages))
        if self._barrier is not None:
            await asyncio.wait_for(self._barrier.wait(), 5)
        if call == self._fail_on:
            raise self._error
        if call == self._hang_on:
            await asyncio.sleep(3600)
        async for item in super().create_stream(messages, **kwargs):
            yield item


def team_of(scripts, *, turns=2, termination=None, events=None, **client_kwargs):
    transcript = Transcript(list(scripts), emit=(events.append if events is not None else None))
    clients = {n: Scripted(replies, **client_kwargs) for n, replies in scripts.items()}
    agents = [
        ConclaveParticipant(n, clients[n], transcript=transcript, timeout_s=1.0) for n in scripts
    ]
    team = ConcurrentGroupChat(agents, turns=turns, termination_condition=termination)
    return team, clients, transcript


async def test_every_participant_speaks_every_turn_in_order_of_turns():
    scripts = {n: [f"{n}0 says 4", f"{n}1 says 4"] for n in NAMES}
    team, _, transcript = team_of(scripts, turns=2)
    result = await team.run(task="What is 2+2?")
    answers = [m for m in result.messages if m.source != "user"]
    assert [m.metadata["turn"] for m in answers] == ["0"] * 3 + ["1"] * 3
    assert sorted(m.source for m in answers[:3]) == list(NAMES)
    assert transcript.turns() == [0, 1]
    assert "Maximum number of turns 2 reached" in (result.stop_reason or "")


async def test_a_turns_speakers_generate_concurrently():
    # Each reply waits until all three are generating at once: sequential speakers
    # would time out at the barrier.
    barrier = asyncio.Barrier(3)
    scripts = {n: [f"{n} says 4", f"{n} says 4 again"] for n in NAMES}
    team, clients, _ = team_of(scripts, turns=2, barrier=barrier)
    await team.run(task="What is 2+2?")
    assert all(len(c.prompts) == 2 for c in clients.values())


async def test_a_critique_turn_shows_the_others_previous_answers_and_ones_own():
    scripts = {n: [f"{n} thinks {i}", f"{n} changed"] for i, n in enumerate(NAMES)}
    team, clients, _ = team_of(scripts, turns=2)
    await team.run(task="What is 2+2?")
    first, second = clients["a"].prompts
    assert [m.content for m in first] == ["What is 2+2?"]
    assert isinstance(second[1], AssistantMessage) and second[1].content == "a thinks 0"
    critique = second[2].content
    assert "- b thinks 1\n- c thinks 2\n" in critique
    assert "changed" not in critique  # nothing of the same turn, whoever was faster


async def test_the_team_stops_early_when_all_answers_agree():
    scripts = {n: [f"The answer is 4. ({n})", "never asked"] for n in NAMES}
    team, clients, transcript = team_of(
        scripts, turns=3, termination=AgreementTermination(participants=3)
    )
    result = await team.run(task="What is 2+2?")
    assert result.stop_reason == "all 3 answers agree on '4'"
    assert transcript.turns() == [0]
    assert all(len(c.prompts) == 1 for c in clients.values())


async def test_agreement_after_a_critique_turn_stops_before_the_next():
    scripts = {
        "a": ["4", "Answer: 4", "x"],
        "b": ["5", "Answer: 4", "x"],
        "c": ["4", "It is 4.", "x"],
    }
    team, _, transcript = team_of(
        scripts, turns=4, termination=AgreementTermination(participants=3)
    )
    await team.run(task="What is 2+2?")
    assert transcript.turns() == [0, 1]


async def test_a_failed_participant_prevents_agreement_and_is_skipped_by_the_others():
    scripts = {n: ["4", "4 again"] for n in NAMES}
    transcript = Transcript(list(NAMES))
    clients = {
        "a": Scripted(scripts["a"]),
        "b": Scripted(scripts["b"], fail_on=0),
        "c": Scripted(scripts["c"]),
    }
    agents = [ConclaveParticipant(n, clients[n], transcript=transcript) for n in NAMES]
    team = ConcurrentGroupChat(
        agents, turns=2, termination_condition=AgreementTermination(participants=3)
    )
    await team.run(task="What is 2+2?")
    failed = [c for c in transcript.candidates if c.participant == "b" and c.turn == 0]
    assert failed[0].finish_reason == "error" and "UNAVAILABLE" in failed[0].error
    assert transcript.turns() == [0, 1]  # no agreement with a missing answer
    critique = clients["a"].prompts[1][-1].content
    assert critique.startswith("Other participants answered:\n- 4\n\n")  # c's alone


async def test_a_busy_agent_is_recorded_as_overloaded_not_as_an_error():
    transcript = Transcript(["a"])
    client = Scripted(["4"], fail_on=0, error=Overloaded("agent busy: queue full"))
    await ConcurrentGroupChat([ConclaveParticipant("a", client, transcript=transcript)]).run(
        task="What is 2+2?"
    )
    assert transcript.candidates[0].finish_reason == "overloaded"


async def test_a_participant_past_its_deadline_is_recorded_as_timed_out():
    transcript = Transcript(list(NAMES))
    agents = [
        ConclaveParticipant(
            n,
            Scripted(["4"], hang_on=0 if n == "c" else None),
            transcript=transcript,
            timeout_s=0.2,
        )
        for n in NAMES
    ]
    await ConcurrentGroupChat(agents, turns=1).run(task="What is 2+2?")
    by_name = {c.participant: c for c in transcript.candidates}
    assert by_name["c"].finish_reason == "timeout" and not by_name["c"].ok
    assert by_name["a"].ok and by_name["b"].ok


async def test_the_transcript_records_every_turn_with_tokens_timings_and_events():
    events = []
    scripts = {n: [f"{n} says four", f"{n} still says four"] for n in NAMES}
    team, _, transcript = team_of(scripts, turns=2, events=events)
    await team.run(task="What is 2+2?")
    transcript.tidy()
    assert [(c.turn, c.participant) for c in transcript.candidates] == [
        (t, n) for t in (0, 1) for n in NAMES
    ]
    for c in transcript.candidates:
        assert c.ok and c.finish_reason == "stop"
        assert c.prompt_tokens > 0 and c.completion_tokens == len(c.text.split())
        assert c.latency_ms >= 0 and c.generation_ms >= 0
    assert set(transcript.timings) == {"turn_0_ms", "turn_1_ms"}
    done = [e.candidate for e in events if isinstance(e, CandidateDone)]
    assert sorted(done, key=lambda c: (c.turn, c.participant)) == transcript.candidates
    texts = [e for e in events if isinstance(e, CandidateText)]
    assert "".join(e.text for e in texts if e.participant == "a" and e.turn == 0) == "a says four"


async def test_turn_wall_time_runs_from_the_first_start_to_the_last_finish():
    ticks = iter([0.0, 0.1, 0.2, 1.0, 3.0, 2.0])  # 3 starts, then 3 finishes
    transcript = Transcript(["a", "b", "c"], clock=lambda: next(ticks))
    for n in "abc":
        transcript.started(n, 0)
    from conclave.leader.types import Candidate

    for n in "abc":
        transcript.finished(Candidate(n, "", 0, "x", "stop", turn=0))
    assert transcript.turn_ms(0) == pytest.approx(3000.0)
    assert transcript.timings == {"turn_0_ms": pytest.approx(3000.0)}


async def test_cancelling_the_team_cancels_the_generations_and_records_them():
    transcript = Transcript(list(NAMES))
    clients = [Scripted(["4"], hang_on=0) for _ in NAMES]
    agents = [
        ConclaveParticipant(n, c, transcript=transcript)
        for n, c in zip(NAMES, clients, strict=True)
    ]
    team = ConcurrentGroupChat(agents, turns=1)
    token = CancellationToken()
    run = asyncio.ensure_future(team.run(task="What is 2+2?", cancellation_token=token))
    while sum(len(c.prompts) for c in clients) < len(NAMES):  # all are waiting on a reply
        await asyncio.sleep(0.01)
    token.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 5)
    assert sorted(c.finish_reason for c in transcript.candidates) == ["cancelled"] * 3


class Recording(TerminationCondition):
    def __init__(self):
        self.calls = []

    @property
    def terminated(self):
        return False

    async def __call__(self, messages):
        self.calls.append([m.source for m in messages])
        return None

    async def reset(self):
        pass


async def test_termination_is_judged_on_each_whole_turn():
    recording = Recording()
    scripts = {n: ["x", "y"] for n in NAMES}
    team, _, _ = team_of(scripts, turns=2, termination=recording)
    await team.run(task="go")
    assert recording.calls[0] == ["user"]  # the task
    assert [sorted(c) for c in recording.calls[1:]] == [list(NAMES), list(NAMES)]


async def test_a_schedule_picks_each_turns_speakers():
    transcript = Transcript(list(NAMES))
    clients = {n: Scripted(["p", "q"]) for n in NAMES}
    agents = [ConclaveParticipant(n, clients[n], transcript=transcript) for n in NAMES]
    team = ConcurrentGroupChat(agents, schedule=[list(NAMES), ["b"]])
    await team.run(task="go")
    assert [(c.turn, c.participant) for c in transcript.candidates[3:]] == [(1, "b")]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ([], "at least one turn"),
        ([["a"], []], "no speakers"),
        ([["z"]], "unknown"),
        ([["a", "a"]], "twice"),
    ],
)
def test_bad_schedules_are_refused(schedule, message):
    agents = [ConclaveParticipant(n, Scripted(["x"])) for n in NAMES]
    with pytest.raises(ValueError, match=message):
        ConcurrentGroupChat(agents, schedule=schedule)


async def test_agreement_needs_every_answer_usable_and_equal():
    done = AgreementTermination(participants=2)

    def msg(source, text, ok="1"):
        return TextMessage(content=text, source=source, metadata={"ok": ok})

    assert await done([msg("a", "4"), msg("b", "five")]) is None
    assert await done([msg("a", "4"), msg("b", "4", ok="0")]) is None
    assert await done([msg("a", "4")]) is None
    assert await done([msg("user", "4"), msg("a", "4")]) is None
    stop = await done([msg("a", "**4**"), msg("b", "the answer is 4")])
    assert isinstance(stop, StopMessage) and done.terminated
    await done.reset()
    assert not done.terminated


def test_agreement_termination_round_trips_as_a_component():
    original = AgreementTermination(extract="number", participants=3)
    loaded = AgreementTermination.load_component(original.dump_component())
    assert loaded.dump_component() == original.dump_component()
    with pytest.raises(Exception, match="extract"):
        AgreementTermination(extract="telepathy")


async def test_any_autogen_agent_can_be_a_member_and_its_answers_are_heard():
    from autogen_agentchat.agents import AssistantAgent

    plain = AssistantAgent("plain", model_client=ReplayChatCompletionClient(["It is 5.", "5"]))
    conclave = Scripted(["It is 4.", "Still 4."])
    team = ConcurrentGroupChat([plain, ConclaveParticipant("c", conclave)], turns=2)
    await team.run(task="What is 2+2?")
    critique = conclave.prompts[1][-1].content
    assert "- It is 5.\n" in critique
