"""Conversation strategies (AutoGen teams) available to the leader as round strategies.

Each module only plans its team (a `ConversationStrategy.plan`); the one runner that
runs every team is `conclave.leader.conversation.runner`. A round names a strategy in
`strategy` and tunes it with string `params` (docs/strategies.md):

- `vote`: `early_stop` (default true);
- `parallel`: `critique_rounds` (default 1), `stop_on_agreement` (default true);
- `round_robin`: `critique_rounds` (default 1);
- `moa`: `layers` (default 1), `aggregator` (default: the first participant).
"""

from __future__ import annotations

from conclave.leader.rounds import Strategy
from conclave.leader.strategies import moa, parallel, round_robin, vote


def round_strategies() -> dict[str, Strategy]:
    """Every strategy a leader runs: the plain vote and the conversations."""
    return {vote.NAME: vote.vote_strategy, **conversation_strategies()}


def conversation_strategies() -> dict[str, Strategy]:
    return {
        parallel.NAME: parallel.ParallelStrategy(),
        round_robin.NAME: round_robin.RoundRobinStrategy(),
        moa.NAME: moa.MixtureOfAgentsStrategy(),
    }
