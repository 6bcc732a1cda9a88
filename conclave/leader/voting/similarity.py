"""`similarity`: the medoid of the largest cluster of mutually similar answers.

Similarity is the cosine of the candidates' embeddings when `params.embeddings` is given
(threshold `similarity_threshold`), else the Jaccard index of their lowercased word-token
sets (threshold `lexical_threshold`) - token sets rather than character n-grams because
answers that differ in word order or repetition still say the same thing.

Clusters are the connected components of the graph joining two votable candidates whose
similarity is >= the threshold (single-link: a chain of similar answers is one cluster).
Cluster weight = member count; clusters rank by the package's tie-break rule. The winner
is the top cluster's medoid: the member with the highest total similarity to the other
members (ties: lowest index). A group's answer is its medoid's extracted answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from conclave.errors import InvalidRequest
from conclave.leader.types import Candidate, Decision, VoteGroup
from conclave.leader.voting.extract import extract_answer
from conclave.leader.voting.measures import cosine, jaccard, token_set
from conclave.leader.voting.method import VotingMethod
from conclave.leader.voting.params import VoteParams
from conclave.leader.voting.tally import decision, rank, share

NAME = "similarity"

Similarity = Callable[[int, int], float]


def decide(candidates: Sequence[Candidate], indices: list[int], params: VoteParams) -> Decision:
    measure_fn, threshold, measure = _measure(candidates, params)
    similar = _pairwise(indices, measure_fn)
    clusters = _components(indices, similar, threshold)
    medoids = {min(c): _medoid(c, similar) for c in clusters}
    groups = rank(
        VoteGroup(
            answer=extract_answer(candidates[medoids[min(c)]].text, params.extract),
            members=tuple(c),
            weight=float(len(c)),
        )
        for c in clusters
    )
    top = groups[0]
    winner = medoids[min(top.members)]
    detail = (
        f"The largest of {len(groups)} cluster(s) ({measure} >= {threshold:g}) holds "
        f"{share(len(top.members), len(indices))} votable candidates; "
        f"its medoid is candidate {winner}."
    )
    return decision(NAME, groups, winner, len(indices), detail)


def _measure(candidates: Sequence[Candidate], params: VoteParams) -> tuple[Similarity, float, str]:
    embeddings = params.embeddings
    if embeddings is not None:
        if len(embeddings) != len(candidates):
            raise InvalidRequest(
                f"embeddings has {len(embeddings)} vectors for {len(candidates)} candidates",
                field="embeddings",
            )
        return (
            lambda i, j: cosine(embeddings[i], embeddings[j]),
            params.similarity_threshold,
            "cosine",
        )
    tokens = [token_set(c.text) for c in candidates]
    return (lambda i, j: jaccard(tokens[i], tokens[j]), params.lexical_threshold, "Jaccard")


def _pairwise(indices: list[int], measure: Similarity) -> Similarity:
    """Every pair measured once: clustering and the medoid both need them."""
    table = {(i, j): measure(i, j) for a, i in enumerate(indices) for j in indices[a + 1 :]}
    return lambda i, j: table[(i, j) if i < j else (j, i)]


def _components(indices: list[int], similar: Similarity, threshold: float) -> list[list[int]]:
    """Connected components by union-find; each component sorted ascending."""
    parent = {i: i for i in indices}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    for a, i in enumerate(indices):
        for j in indices[a + 1 :]:
            if similar(i, j) >= threshold:
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    components: dict[int, list[int]] = {}
    for i in indices:
        components.setdefault(root(i), []).append(i)
    return list(components.values())


def _medoid(members: list[int], similar: Similarity) -> int:
    def total(i: int) -> float:
        return math.fsum(similar(i, j) for j in members if j != i)

    return min(members, key=lambda i: (-total(i), i))


METHOD = VotingMethod(NAME, decide, needs_embeddings=True)
