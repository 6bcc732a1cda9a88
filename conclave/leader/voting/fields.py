"""`fields`: a field-by-field majority over JSON objects.

Each votable candidate's answer is read as JSON (`voting.extract`'s `json` mode, so a
reason-first answer counts by what follows its marker). For every field that at least
half of the objects have, the value most of them give wins (values compared as canonical
JSON; ties by the package rule: more members, then the earliest member); the answer is
the object of the winning values, so it may combine fields no single voice wrote
together. Fields fewer than half of the objects have are left out.

The winner is the candidate whose object agrees with the answer on the most fields
(ties: lowest index); `answer` is the combined object's canonical JSON, which the
gateway returns. Groups are the per-field tallies, labelled `field=value`, fields in
the order the candidates first name them, each field's values best first. Agreement is
the mean, over the answer's fields, of the share of objects giving the winning value.
Candidates whose answer is not a JSON object do not vote; with no object at all the
method decides as `majority` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from conclave.leader.types import Candidate, Decision, VoteGroup
from conclave.leader.voting import majority
from conclave.leader.voting.canonical import canonical
from conclave.leader.voting.extract import json_answer
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import group_by_answer, rank

NAME = "fields"


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    objects: dict[int, dict[str, Any]] = {}
    for index in indices:
        value = json_answer(candidates[index].text)
        if isinstance(value, dict):
            objects[index] = value
    if not objects:
        fallback = majority.decide(candidates, indices, params)
        return replace(
            fallback, method=NAME, detail=f"No JSON object to vote on; majority: {fallback.detail}"
        )
    keys = list(dict.fromkeys(key for index in sorted(objects) for key in objects[index]))
    answer: dict[str, Any] = {}
    groups: list[VoteGroup] = []
    winning: set[str] = set()  # the labels of each field's winning value
    shares: list[float] = []
    for key in keys:
        holders = {i: canonical(objects[i][key]) for i in objects if key in objects[i]}
        if 2 * len(holders) < len(objects):
            continue
        ranked = rank(group_by_answer(holders, lambda _: 1.0))
        top = ranked[0]
        answer[key] = objects[top.members[0]][key]
        shares.append(len(top.members) / len(objects))
        labelled = [replace(g, answer=f"{key}={g.answer}") for g in ranked]
        winning.add(labelled[0].answer)
        groups += labelled
    chosen = canonical(answer)

    def agreeing(index: int) -> int:
        mine = objects[index]
        return sum(1 for k, v in answer.items() if k in mine and canonical(mine[k]) == canonical(v))

    winner = min(objects, key=lambda i: (-agreeing(i), i))
    detail = (
        f"{len(objects)} of {len(indices)} votable candidates answered a JSON object; "
        f"{len(answer)} field(s) decided by majority; candidate {winner} agrees on "
        f"{agreeing(winner)} of them."
    )
    return Decision(
        method=NAME,
        winner=winner,
        answer=chosen,
        groups=tuple(groups),
        agreement=math.fsum(shares) / len(shares) if shares else 0.0,
        dissent=tuple(g.answer for g in groups if g.answer not in winning),
        detail=detail,
    )


METHOD = VotingMethod(NAME, decide)
