"""`round_robin`: AutoGen's RoundRobinGroupChat as a critique chain, then a vote.

Participants speak one after another in the request's order. Each sees the latest answer
of everyone who spoke before it (in this pass or the last), critiques them and gives its
own; the first speaker of the first pass just answers. A *pass* is one turn of every
participant and is what a candidate's `turn` counts.

Params: `critique_rounds` (R, default 1, 0-8): passes after the first. The vote runs over
each participant's latest answer (the last pass).
"""

from __future__ import annotations

from autogen_agentchat.teams import RoundRobinGroupChat

from conclave.leader.conversation.participant import ConclaveParticipant
from conclave.leader.conversation.runner import ConversationStrategy, TeamPlan
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.rounds import RoundContext
from conclave.leader.strategies.params import int_param

NAME = "round_robin"
MAX_CRITIQUE_ROUNDS = 8
DEFAULT_CRITIQUE_ROUNDS = 1
# The knobs a round that sets none gets, as the wire writes them (GET /v1/models shows them).
DEFAULTS = {"critique_rounds": str(DEFAULT_CRITIQUE_ROUNDS)}


class RoundRobinStrategy(ConversationStrategy):
    def plan(self, ctx: RoundContext) -> TeamPlan:
        rounds = int_param(
            ctx.request.params,
            "critique_rounds",
            default=DEFAULT_CRITIQUE_ROUNDS,
            low=0,
            high=MAX_CRITIQUE_ROUNDS,
        )

        def team(members: list[ConclaveParticipant]) -> RoundRobinGroupChat:
            return RoundRobinGroupChat(list(members), max_turns=len(members) * (rounds + 1))

        return TeamPlan("critique", see_same_turn=True, team=team, voters=Transcript.latest)
