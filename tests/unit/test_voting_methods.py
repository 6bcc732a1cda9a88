"""Each voting method on hand-made candidates: winners, groups, agreement, ties, fallbacks."""

from __future__ import annotations

import pytest

from conclave.errors import InvalidRequest
from conclave.leader.types import Candidate
from conclave.leader.voting import METHODS, VoteParams, get_method, judge_prompt, parse_judge_reply
from conclave.leader.voting.quality import score


def cand(
    text: str,
    participant: str = "p",
    *,
    service: str = "svc",
    finish: str = "stop",
    latency: float = 100.0,
    sample: int = 0,
) -> Candidate:
    return Candidate(
        participant=participant,
        service=service,
        sample_index=sample,
        text=text,
        finish_reason=finish,
        latency_ms=latency,
    )


DEFAULT = VoteParams()


# -- registry and shared contract ------------------------------------------------------


def test_registry_names_every_method() -> None:
    assert set(METHODS) == {
        "majority",
        "similarity",
        "quality",
        "fastest",
        "weighted",
        "two_phase",
        "judge",
    }
    assert get_method("majority") is METHODS["majority"]


def test_unknown_method_names_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match="majority") as info:
        get_method("plurality")
    assert info.value.field == "method"


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "candidates",
    [
        [],
        [cand("", finish="stop"), cand("42", finish="error"), cand("7", finish="timeout")],
    ],
)
def test_nothing_votable_gives_no_winner(method: str, candidates: list[Candidate]) -> None:
    decision = METHODS[method].vote(candidates, DEFAULT)
    assert decision.method == method
    assert decision.winner is None
    assert decision.answer == ""
    assert decision.agreement == 0.0
    assert decision.detail


@pytest.mark.parametrize("method", sorted(METHODS))
def test_indices_refer_to_the_full_list(method: str) -> None:
    candidates = [cand("x", finish="error"), cand("", finish="stop"), cand("The answer is 5.")]
    decision = METHODS[method].vote(candidates, DEFAULT)
    assert decision.winner == 2
    assert decision.answer == "5"
    assert decision.agreement == 1.0
    assert [g.members for g in decision.groups] == [(2,)]


def test_vote_params_reject_bad_knobs() -> None:
    with pytest.raises(InvalidRequest):
        VoteParams(extract="roman")
    with pytest.raises(InvalidRequest):
        VoteParams(lexical_threshold=1.5)
    with pytest.raises(InvalidRequest):
        VoteParams(weights={"a": -1.0})
    params = VoteParams.from_request({"extract": "number", "lexical_threshold": "0.3"})
    assert (params.extract, params.lexical_threshold) == ("number", 0.3)
    with pytest.raises(InvalidRequest, match="similarity_threshold"):
        VoteParams.from_request({"similarity_threshold": "high"})


# -- majority ----------------------------------------------------------------------------


def test_majority_groups_by_extracted_answer() -> None:
    candidates = [
        cand("I believe it is 41."),
        cand("The answer is 42."),
        cand("42"),
        cand("so 42.0"),
        cand("oops", finish="length"),  # cut off but said something: still votes
    ]
    decision = METHODS["majority"].vote(candidates, DEFAULT)
    assert decision.winner == 1  # the lowest-index member of the winning group
    assert decision.answer == "42"
    assert decision.groups[0].members == (1, 2, 3)
    assert decision.groups[0].weight == 3.0
    assert decision.agreement == pytest.approx(3 / 5)
    assert decision.dissent == ("41", "oops")
    assert decision.tally == {"42": 3.0, "41": 1.0, "oops": 1.0}


def test_majority_tie_goes_to_the_group_with_the_earliest_member() -> None:
    candidates = [cand("B) no"), cand("A) yes"), cand("A) yes!"), cand("B.")]
    decision = METHODS["majority"].vote(candidates, DEFAULT)
    assert decision.answer == "B"
    assert decision.winner == 0
    assert decision.agreement == 0.5


def test_majority_respects_the_extraction_mode() -> None:
    candidates = [cand("Paris is 1st"), cand("paris is 2nd"), cand("Lyon 1st")]
    by_text = METHODS["majority"].vote(candidates, VoteParams(extract="first_line"))
    assert by_text.groups[0].members == (0,)  # three different lines
    by_word = METHODS["majority"].vote([cand("Paris."), cand("paris"), cand("Lyon")], DEFAULT)
    assert by_word.answer == "paris"


# -- weighted ----------------------------------------------------------------------------


def test_weighted_lets_a_heavy_participant_outvote_two_light_ones() -> None:
    candidates = [cand("1", "a"), cand("1", "b"), cand("2", "expert")]
    params = VoteParams(weights={"expert": 3.0, "a": 1.0})  # "b" defaults to 1.0
    decision = METHODS["weighted"].vote(candidates, params)
    assert decision.winner == 2
    assert decision.answer == "2"
    assert decision.groups[0].weight == 3.0
    assert decision.groups[1].weight == 2.0
    assert decision.agreement == pytest.approx(1 / 3)  # share of candidates, not weight


def test_weighted_with_equal_weight_breaks_ties_by_size() -> None:
    candidates = [cand("1", "a"), cand("2", "b"), cand("2", "c")]
    params = VoteParams(weights={"a": 2.0, "b": 1.0, "c": 1.0})
    assert METHODS["weighted"].vote(candidates, params).answer == "2"


# -- fastest -----------------------------------------------------------------------------


def test_fastest_picks_lowest_latency_and_keeps_answer_groups() -> None:
    candidates = [
        cand("7", latency=300.0),
        cand("9", latency=50.0, finish="error"),  # faster but not votable
        cand("8", latency=120.0),
        cand("7", latency=90.0),
    ]
    decision = METHODS["fastest"].vote(candidates, DEFAULT)
    assert decision.winner == 3
    assert decision.answer == "7"
    assert decision.groups[0].members == (0, 3)
    assert decision.agreement == pytest.approx(2 / 3)


def test_fastest_latency_tie_goes_to_lowest_index() -> None:
    candidates = [cand("1", latency=80.0), cand("2", latency=80.0), cand("2", latency=90.0)]
    decision = METHODS["fastest"].vote(candidates, DEFAULT)
    assert decision.winner == 0
    assert decision.groups[0].answer == "1"


# -- similarity --------------------------------------------------------------------------


def test_similarity_lexical_picks_medoid_of_largest_cluster() -> None:
    candidates = [
        cand("the cat sat on the mat"),
        cand("a dog ran in the park"),
        cand("the cat sat on a mat"),
        cand("the cat sat on the mat today"),
    ]
    decision = METHODS["similarity"].vote(candidates, DEFAULT)
    assert decision.groups[0].members == (0, 2, 3)
    assert decision.winner == 0  # most similar to the other two
    assert decision.agreement == 0.75
    assert "Jaccard" in decision.detail


def test_similarity_uses_embeddings_when_given() -> None:
    candidates = [cand("alpha"), cand("beta"), cand("gamma"), cand("delta")]
    embeddings = [[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [0.05, 1.0]]
    decision = METHODS["similarity"].vote(candidates, VoteParams(embeddings=embeddings))
    assert decision.groups[0].members == (1, 2, 3)
    assert decision.winner == 3  # the middle vector is the medoid
    assert decision.answer == "delta"
    assert "cosine" in decision.detail


def test_similarity_single_link_chains_clusters() -> None:
    # 0~1 and 1~2 are similar, 0 and 2 are not: one cluster all the same.
    embeddings = [[1.0, 0.0], [0.92, 0.39], [0.7, 0.71]]
    candidates = [cand("x"), cand("y"), cand("z")]
    params = VoteParams(embeddings=embeddings, similarity_threshold=0.9)
    decision = METHODS["similarity"].vote(candidates, params)
    assert decision.groups[0].members == (0, 1, 2)
    assert decision.winner == 1


def test_similarity_rejects_embeddings_of_the_wrong_length() -> None:
    with pytest.raises(InvalidRequest, match="embeddings"):
        METHODS["similarity"].vote([cand("a"), cand("b")], VoteParams(embeddings=[[1.0]]))


# -- quality -----------------------------------------------------------------------------


def test_quality_scores_structure() -> None:
    good = cand("Here is the code:\n```python\nprint('hi')\n```")
    broken = cand("Here is the code:\n```python\nprint('hi'\n```")
    truncated = cand("It all started when", finish="length")
    looping = cand("I think so. " * 30)
    complete = cand("Paris is the capital of France.")
    assert score(good) == 1.5
    assert score(broken) == 0.0
    assert score(truncated) == -1.0
    assert score(looping) < 0.0
    assert score(complete) == 1.0


def test_quality_winner_is_best_scored_and_agreement_counts_its_answer() -> None:
    candidates = [
        cand("paris", "a"),  # incomplete sentence
        cand("The capital is Paris.", "b"),
        cand("Lyon.", "c"),
        cand("It is Paris", "d", finish="length"),
    ]
    decision = METHODS["quality"].vote(candidates, DEFAULT)
    assert decision.answer == "the capital is paris"
    assert decision.winner == 1
    assert [g.members for g in decision.groups][:2] == [(1,), (2,)]
    assert all(len(g.members) == 1 for g in decision.groups)
    assert decision.agreement == 0.25


def test_quality_ties_prefer_the_answer_more_candidates_share() -> None:
    candidates = [cand("7."), cand("8."), cand("8.")]
    decision = METHODS["quality"].vote(candidates, DEFAULT)
    assert decision.winner == 1
    assert decision.agreement == pytest.approx(2 / 3)
    assert decision.dissent == ("7",)


# -- two_phase ---------------------------------------------------------------------------


def test_two_phase_weights_services_by_local_agreement() -> None:
    candidates = [
        # service A: split 2-2 on its own samples -> local winner "1", agreement 0.5
        cand("1", "a", service="A", sample=0),
        cand("2", "a", service="A", sample=1),
        cand("1", "a", service="A", sample=2),
        cand("2", "a", service="A", sample=3),
        # service B: unanimous "3" -> agreement 1.0
        cand("3", "b", service="B", sample=0),
        cand("3", "b", service="B", sample=1),
    ]
    decision = METHODS["two_phase"].vote(candidates, DEFAULT)
    # Plain majority would be a 2-2-2 tie won by "1"; B's confidence wins here.
    assert METHODS["majority"].vote(candidates, DEFAULT).answer == "1"
    assert decision.answer == "3"
    assert decision.winner == 4
    assert decision.groups[0].weight == 1.0
    assert decision.groups[1].answer == "1"
    assert decision.groups[1].weight == 0.5
    assert decision.groups[2].weight == 0.0  # "2" was no service's choice
    assert decision.agreement == pytest.approx(2 / 6)


def test_two_phase_sums_local_agreement_across_services() -> None:
    candidates = [
        cand("5", service="A"),
        cand("5", service="B"),
        cand("6", service="C"),
        cand("6", service="C"),
        cand("6", service="C"),
    ]
    decision = METHODS["two_phase"].vote(candidates, DEFAULT)
    assert decision.answer == "5"  # two services (weight 2.0) beat one (1.0)
    assert decision.winner == 0
    assert decision.agreement == pytest.approx(2 / 5)


# -- judge -------------------------------------------------------------------------------


def test_judge_follows_the_choice() -> None:
    candidates = [cand("1"), cand("1"), cand("2")]
    decision = METHODS["judge"].vote(candidates, VoteParams(judge_choice=2))
    assert decision.winner == 2
    assert decision.answer == "2"
    assert decision.groups[0].members == (2,)
    assert decision.dissent == ("1",)
    assert decision.agreement == pytest.approx(1 / 3)
    assert "judge chose candidate 2" in decision.detail


@pytest.mark.parametrize("choice", [None, 0, 7, -1])
def test_judge_falls_back_to_majority(choice: int | None) -> None:
    candidates = [cand("9", finish="error"), cand("1"), cand("1"), cand("2")]
    decision = METHODS["judge"].vote(candidates, VoteParams(judge_choice=choice))
    assert decision.method == "judge"
    assert decision.winner == 1
    assert "majority instead" in decision.detail


def test_judge_prompt_lists_only_votable_candidates_clipped_then_asks_again() -> None:
    candidates = [cand("first"), cand("dead", finish="error"), cand("x" * 50)]
    prompt = judge_prompt("What is it?", candidates, max_chars_each=10)
    assert prompt.startswith("Proposed answers:\n1. first\n2. " + "x" * 9 + "…\n")
    assert "dead" not in prompt
    assert "3." not in prompt
    assert prompt.endswith("\nWhat is it?")  # the question last: small models answer it


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("c", 2),  # the reply repeats an answer: that candidate
        ("The answer is a.", 0),
        ("2", 2),  # a number names the votable candidate
        ("Answer 1.", 0),
        ("**2**", 2),
        ("I pick 3", None),
        ("2.5", None),
        ("", None),
        ("b", None),  # b failed: not votable
    ],
)
def test_parse_judge_reply_maps_back_to_candidate_index(reply: str, expected: int | None) -> None:
    candidates = [cand("a"), cand("b", finish="error"), cand("c")]
    assert parse_judge_reply(reply, candidates) == expected


def test_parse_judge_reply_prefers_an_answer_to_a_number() -> None:
    candidates = [cand("7"), cand("2"), cand("3")]
    assert parse_judge_reply("2", candidates) == 1  # the answer "2", not candidate number 2
