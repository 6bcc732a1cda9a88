"""Properties every voting method keeps, on hypothesis-generated candidate lists."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from conclave.leader.types import Candidate
from conclave.leader.voting import METHODS, VoteParams
from conclave.leader.voting.extract import extract_answer

# Small answer vocabulary so groups actually form; some texts need extraction.
TEXTS = st.sampled_from(
    ["42", "The answer is 42.", "41", "B) yes", "(C)", "paris", "Paris.", "", "  ", "x " * 9]
)
FINISH = st.sampled_from(["stop", "stop", "stop", "length", "error", "timeout"])


@st.composite
def candidates(draw: st.DrawFn, max_size: int = 8) -> list[Candidate]:
    n = draw(st.integers(0, max_size))
    return [
        Candidate(
            participant=draw(st.sampled_from(["a", "b", "c", "d"])),
            service=draw(st.sampled_from(["s1", "s2", "s3"])),
            sample_index=k,
            text=draw(TEXTS),
            finish_reason=draw(FINISH),
            latency_ms=draw(st.floats(0, 1000, allow_nan=False)),
        )
        for k in range(n)
    ]


@st.composite
def params(draw: st.DrawFn, n: int) -> VoteParams:
    weights = draw(st.dictionaries(st.sampled_from("abcd"), st.floats(0, 5), max_size=4))
    embeddings = draw(
        st.none()
        | st.lists(
            st.lists(st.floats(-1, 1, allow_nan=False), min_size=3, max_size=3),
            min_size=n,
            max_size=n,
        )
    )
    choice = draw(st.none() | st.integers(-1, n))
    return VoteParams(weights=weights, embeddings=embeddings, judge_choice=choice)


METHOD = st.sampled_from(sorted(METHODS))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), method=METHOD)
def test_winner_is_votable_and_agreement_bounded(data: st.DataObject, method: str) -> None:
    cands = data.draw(candidates())
    p = data.draw(params(len(cands)))
    decision = METHODS[method].vote(cands, p)
    votable = {i for i, c in enumerate(cands) if c.ok}
    assert 0.0 <= decision.agreement <= 1.0
    if not votable:
        assert decision.winner is None and decision.answer == ""
        return
    assert decision.winner in votable
    assert decision.answer == extract_answer(cands[decision.winner].text, p.extract)
    members = [i for g in decision.groups for i in g.members]
    assert sorted(members) == sorted(votable)  # every votable candidate in exactly one group
    assert decision.dissent == tuple(g.answer for g in decision.groups[1:]) or method == "quality"


@settings(max_examples=100, deadline=None)
@given(data=st.data(), method=METHOD)
def test_deterministic(data: st.DataObject, method: str) -> None:
    cands = data.draw(candidates())
    p = data.draw(params(len(cands)))
    assert METHODS[method].vote(cands, p) == METHODS[method].vote(list(cands), p)


@settings(max_examples=150, deadline=None)
@given(cands=candidates(), seed=st.randoms(use_true_random=False))
def test_majority_answer_survives_permutation(cands: list[Candidate], seed: random.Random) -> None:
    counts = Counter(extract_answer(c.text) for c in cands if c.ok)
    ranked = counts.most_common(2)
    strict = len(ranked) == 1 or (len(ranked) == 2 and ranked[0][1] > ranked[1][1])
    shuffled = list(cands)
    seed.shuffle(shuffled)
    before = METHODS["majority"].vote(cands, VoteParams())
    after = METHODS["majority"].vote(shuffled, VoteParams())
    if ranked and strict:
        assert before.answer == after.answer == ranked[0][0]
    assert before.agreement == after.agreement


@settings(max_examples=150, deadline=None)
@given(cands=candidates())
def test_two_phase_with_one_sample_per_service_equals_majority(cands: list[Candidate]) -> None:
    # Give every candidate its own service: each local vote is unanimous (agreement 1).
    solo = [
        Candidate(
            participant=c.participant,
            service=f"svc{k}",
            sample_index=0,
            text=c.text,
            finish_reason=c.finish_reason,
        )
        for k, c in enumerate(cands)
    ]
    two = METHODS["two_phase"].vote(solo, VoteParams())
    one = METHODS["majority"].vote(solo, VoteParams())
    assert (two.answer, two.winner, two.agreement) == (one.answer, one.winner, one.agreement)
