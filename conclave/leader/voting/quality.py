"""`quality`: the best-formed answer wins, by structure heuristics alone.

Score of one candidate (higher is better), rounded to 6 decimals:

- +1.0 if it ends complete: a final ``.``, ``!`` or ``?`` (closing emphasis, quotes or
  brackets allowed after it), or a closed code block;
- +0.5 for each ```python block whose body `ast.parse`s (at most +1.0 in total),
  -1.0 for each that does not (an unclosed block runs to the end of the text);
- -1.0 if it was cut off (`finish_reason == "length"`);
- -2.0 x the share of repeated word 4-grams (degenerate loops score near -2);
- -0.5 if it has no word at all, or more than 1000 words (rambling).

Groups are one per candidate (weight = score). Ties: higher score, then more votable
candidates sharing its extracted answer, then lowest index. Agreement is the share of
votable candidates whose extracted answer equals the winner's - a singleton group's
share would only restate the candidate count. Dissent lists every other distinct answer
once, best first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from conclave.leader.types import Candidate, Decision, VoteGroup
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.structure import ends_complete, parses_as_python, python_blocks
from conclave.leader.voting.structure import repetition as repetition_share
from conclave.leader.voting.structure import words as word_list
from conclave.leader.voting.tally import answers_of, decision, share

NAME = "quality"
MAX_WORDS = 1000


def score(candidate: Candidate) -> float:
    text = candidate.text
    total = 1.0 if ends_complete(text) else 0.0
    code_bonus = 0.0
    for block in python_blocks(text):
        if parses_as_python(block.body):
            code_bonus += 0.5
        else:
            total -= 1.0
    total += min(code_bonus, 1.0)
    if candidate.finish_reason == "length":
        total -= 1.0
    total -= 2.0 * repetition_share(text)
    n_words = len(word_list(text))
    if n_words == 0 or n_words > MAX_WORDS:
        total -= 0.5
    return round(total, 6)


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    answers = answers_of(candidates, indices, params.extract)
    support = Counter(answers.values())
    scores = {i: score(candidates[i]) for i in indices}
    order = sorted(indices, key=lambda i: (-scores[i], -support[answers[i]], i))
    groups = tuple(VoteGroup(answer=answers[i], members=(i,), weight=scores[i]) for i in order)
    winner = order[0]
    detail = (
        f"Candidate {winner} ({candidates[winner].participant}) scored best on structure "
        f"({scores[winner]:g}); {share(support[answers[winner]], len(indices))} votable "
        "candidates gave its answer."
    )
    # Singleton groups repeat answers; dissent lists each other answer once, best first.
    dissent = tuple(dict.fromkeys(g.answer for g in groups if g.answer != answers[winner]))
    chosen = decision(NAME, groups, winner, len(indices), detail)
    return replace(chosen, agreement=support[answers[winner]] / len(indices), dissent=dissent)


METHOD = VotingMethod(NAME, decide)
