"""`vote`: everyone answers at once, k samples each, and the round's method decides.

Params: `early_stop` (default true): stop the stragglers once their answers can no longer
change a counting method's outcome, and answer then (the runner sends the decision
before the record is written); false hears every voice, and the answer waits for them
(an experiment that studies votes of several sizes from one round, say).
"""

from __future__ import annotations

from conclave.leader.rounds import RoundContext
from conclave.leader.strategies.params import bool_param
from conclave.leader.types import Candidate

NAME = "vote"


async def vote_strategy(ctx: RoundContext) -> list[Candidate]:
    early_stop = bool_param(ctx.request.params, "early_stop", default=True)
    specs = [
        ctx.spec(p, ctx.messages, samples=ctx.request.samples_per_participant)
        for p in ctx.participants
    ]
    return await ctx.turn(specs, turn=0, settled=ctx.early_stop() if early_stop else None)
