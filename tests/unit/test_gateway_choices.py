"""How a decided round becomes OpenAI choices (conclave/gateway/completions.py)."""

from __future__ import annotations

from conclave.gateway.completions import choices, usage
from conclave.leader.types import Candidate, Decision, RoundRecord, RoundRequest, VoteGroup


def candidate(
    text: str, participant: str = "p", index: int = 0, reason: str = "stop", turn: int = 0
) -> Candidate:
    return Candidate(
        participant=participant,
        service="",
        sample_index=index,
        text=text,
        finish_reason=reason,
        turn=turn,
        prompt_tokens=3,
        completion_tokens=2,
        cached_prompt_tokens=turn,  # a later turn finds its history cached
    )


def round_of(candidates: list[Candidate], winner: int | None = None, groups=()) -> RoundRecord:
    """A decided round of these candidates; `groups` lists each group's members."""
    return RoundRecord(
        id="r",
        created_at=0.0,
        request=RoundRequest(messages=()),
        participants=(),
        candidates=tuple(candidates),
        decision=Decision(
            method="majority",
            winner=winner,
            answer="",
            groups=tuple(VoteGroup(answer="", members=m, weight=0.0) for m in groups),
        ),
        status="decided",
    )


def test_the_winner_comes_first_then_one_per_other_group():
    round_ = round_of(
        [candidate("a"), candidate("b"), candidate("a"), candidate("c")],
        winner=2,
        groups=[(0, 2), (3,), (1,)],
    )
    assert [c["text"] for c in choices(round_, n=3, direct=False)] == ["a", "c", "b"]
    assert [c["text"] for c in choices(round_, n=1, direct=False)] == ["a"]


def test_direct_answers_are_the_samples_in_order():
    round_ = round_of([candidate("y", index=1), candidate("x", index=0, reason="length")])
    assert choices(round_, n=2, direct=True) == [
        {"text": "x", "finish_reason": "length"},
        {"text": "y", "finish_reason": "stop"},
    ]


def test_an_all_empty_round_answers_with_the_empty_answer_not_an_error():
    round_ = round_of([candidate(""), candidate("", reason="error")])
    assert choices(round_, n=1, direct=False) == [{"text": "", "finish_reason": "stop"}]


def test_usage_counts_every_candidate_of_every_turn():
    round_ = round_of([candidate("a"), candidate("b", turn=1)])
    assert usage(round_) == {
        "prompt_tokens": 6,
        "completion_tokens": 4,
        "total_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 1},
    }
