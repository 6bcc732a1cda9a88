"""`parallel`: everyone answers at once; then, each critique turn, everyone sees the
others' latest answers, critiques them and revises their own, all at once; then a vote.

Params: `critique_rounds` (R, default 1, 0-8): critique turns after the first answer;
`stop_on_agreement` (default true): stop after any turn whose answers all extract to the
same short answer. The vote (the round's method) runs over the last turn's candidates.
"""

from __future__ import annotations

from conclave.agents.team import ConcurrentGroupChat
from conclave.leader.conversation.participant import ConclaveParticipant
from conclave.leader.conversation.runner import ConversationStrategy, TeamPlan
from conclave.leader.conversation.termination import AgreementTermination
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.rounds import RoundContext
from conclave.leader.strategies.params import bool_param, int_param
from conclave.leader.types import Candidate

NAME = "parallel"
MAX_CRITIQUE_ROUNDS = 8
DEFAULT_CRITIQUE_ROUNDS = 1
DEFAULT_STOP_ON_AGREEMENT = True
# The knobs a round that sets none gets, as the wire writes them (GET /v1/models shows them).
DEFAULTS = {
    "critique_rounds": str(DEFAULT_CRITIQUE_ROUNDS),
    "stop_on_agreement": str(DEFAULT_STOP_ON_AGREEMENT).lower(),
}


class ParallelStrategy(ConversationStrategy):
    def plan(self, ctx: RoundContext) -> TeamPlan:
        params = ctx.request.params
        rounds = int_param(
            params,
            "critique_rounds",
            default=DEFAULT_CRITIQUE_ROUNDS,
            low=0,
            high=MAX_CRITIQUE_ROUNDS,
        )
        stop = bool_param(params, "stop_on_agreement", default=DEFAULT_STOP_ON_AGREEMENT)

        def team(members: list[ConclaveParticipant]) -> ConcurrentGroupChat:
            termination = (
                AgreementTermination(ctx.vote_params.extract, participants=len(members))
                if stop
                else None
            )
            return ConcurrentGroupChat(members, turns=rounds + 1, termination_condition=termination)

        return TeamPlan("critique", see_same_turn=False, team=team, voters=_last_turn)


def _last_turn(transcript: Transcript) -> list[Candidate]:
    last = transcript.last_turn()
    return [] if last is None else transcript.turn(last)
