"""`moa` (mixture of agents): proposers answer in parallel, one aggregator synthesizes.

Turn 0: every participant proposes an answer, all at once. Each further layer: every
participant sees all of the previous layer's answers and writes an improved one (the
aggregate prompt), all at once. Last turn: the aggregator alone synthesizes the last
layer's answers. The aggregator is a participant too, so it also proposes.

Params: `layers` (default 1, 1-4): proposal layers before the aggregation;
`aggregator` (default: the first participant): the participant that synthesizes.
The decision is the aggregator's answer; if the aggregation failed, the vote falls back
to the last layer's proposals. The aggregation is the round's last turn and has one
candidate, so a `moa` round's quorum must be 1.
"""

from __future__ import annotations

import logging

from conclave.agents.team import ConcurrentGroupChat
from conclave.errors import InvalidRequest
from conclave.leader.conversation.participant import ConclaveParticipant
from conclave.leader.conversation.runner import ConversationStrategy, TeamPlan
from conclave.leader.conversation.transcript import Transcript
from conclave.leader.rounds import RoundContext
from conclave.leader.strategies.params import int_param
from conclave.leader.types import Candidate

log = logging.getLogger(__name__)

NAME = "moa"
MAX_LAYERS = 4
DEFAULT_LAYERS = 1
# The knobs a round that sets none gets, as the wire writes them (GET /v1/models shows
# them); the aggregator's default, the round's first participant, has no fixed value.
DEFAULTS = {"layers": str(DEFAULT_LAYERS)}


class MixtureOfAgentsStrategy(ConversationStrategy):
    def plan(self, ctx: RoundContext) -> TeamPlan:
        params = ctx.request.params
        layers = int_param(params, "layers", default=DEFAULT_LAYERS, low=1, high=MAX_LAYERS)
        names = [p.name for p in ctx.participants]
        aggregator = params.get("aggregator") or names[0]
        if aggregator not in names:
            raise InvalidRequest(
                f"params.aggregator {aggregator!r} is not a participant of this round "
                f"({', '.join(names)})",
                field="params.aggregator",
            )

        def team(members: list[ConclaveParticipant]) -> ConcurrentGroupChat:
            everyone = [m.name for m in members]
            synthesizer = members[names.index(aggregator)].name
            return ConcurrentGroupChat(members, schedule=[everyone] * layers + [[synthesizer]])

        def voters(transcript: Transcript) -> list[Candidate]:
            final = [c for c in transcript.turn(layers) if c.participant == aggregator and c.ok]
            if final:
                return final
            log.warning("round %s: the aggregation failed; voting over the proposals", ctx.round_id)
            return transcript.turn(layers - 1)

        return TeamPlan("aggregate", see_same_turn=False, team=team, voters=voters)
