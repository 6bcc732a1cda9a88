"""Resuming after a kill between the leader storing a round and the journal line.

Every round of a run is stored by the leader with the run's tags, so a round the journal
lacks may still be done: the leader's store is asked for the run's decided rounds, and
each that the journal misses is journaled as if it had just finished.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from conclave.experiments.plan import Unit
from conclave.experiments.results import ItemResult, outcome_of, result_of
from conclave.experiments.run_folder import Key, RunFolder
from conclave.leader.store import RoundSummary
from conclave.leader.types import RoundRecord


def adopt_stored_rounds(
    folder: RunFolder,
    units: Mapping[Key, Unit],
    done: dict[Key, ItemResult],
    *,
    tagged: Callable[[str, str], Iterator[RoundSummary]],
    get_round: Callable[[str], RoundRecord],
) -> int:
    """Journals the decided rounds the leader stored for this run that `done` lacks;
    adds them to `done`; returns how many."""
    adopted = 0
    for stored in tagged("experiment", folder.run_id):
        if stored.status != "decided":
            continue
        try:
            key = (stored.tags["cell"], stored.tags["item"], int(stored.tags["repeat"]))
        except (KeyError, ValueError):
            continue
        if key in done or key not in units:
            continue  # newest first: a later duplicate of a key is never adopted
        result = result_of(units[key], outcome_of(get_round(stored.id)))
        folder.record(result)
        done[key] = result
        adopted += 1
    return adopted
