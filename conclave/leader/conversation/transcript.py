"""The full record of a conversation: every turn of every participant, as Candidates.

Participants report here as they work: when a turn starts, each text chunk, each finished
(or failed) answer. The transcript appends the candidate to its sink at once (a leader
round's own list, so a round interrupted mid-conversation still keeps every answer
heard) and forwards events to `emit` (the round's event stream), and keeps each turn's
wall time: first start to last finish among that turn's participants.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from conclave.leader.events import CandidateDone, CandidateText, RoundEvent
from conclave.leader.types import Candidate

Clock = Callable[[], float]


class Transcript:
    def __init__(
        self,
        order: Sequence[str],
        *,
        emit: Callable[[RoundEvent], None] | None = None,
        sink: list[Candidate] | None = None,
        timings: dict[str, float] | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        """`order` names the participants in the request's order: each turn is kept in
        it (see `tidy`) so the record does not depend on who finished first."""
        self._rank = {name: i for i, name in enumerate(order)}
        self._emit = emit or (lambda event: None)
        self.candidates: list[Candidate] = sink if sink is not None else []
        self._first = len(self.candidates)  # the sink may hold earlier candidates
        self.timings: dict[str, float] = timings if timings is not None else {}
        self._clock = clock
        self._start: dict[int, float] = {}
        self._end: dict[int, float] = {}

    def started(self, participant: str, turn: int) -> float:
        """Marks `participant` starting `turn`; returns the clock reading."""
        now = self._clock()
        self._start[turn] = min(self._start.get(turn, now), now)
        return now

    def text(self, participant: str, turn: int, chunk: str) -> None:
        self._emit(CandidateText(participant, 0, turn, chunk))

    def finished(self, candidate: Candidate) -> None:
        now = self._clock()
        turn = candidate.turn
        self._end[turn] = max(self._end.get(turn, now), now)
        self.candidates.append(candidate)
        self.timings[f"turn_{turn}_ms"] = self.turn_ms(turn)
        self._emit(CandidateDone(candidate))

    def turn_ms(self, turn: int) -> float:
        """Wall time of `turn`: its first start to its last finish (0 if none finished)."""
        if turn not in self._start or turn not in self._end:
            return 0.0
        return (self._end[turn] - self._start[turn]) * 1000.0

    @property
    def mine(self) -> list[Candidate]:
        return self.candidates[self._first :]

    def turns(self) -> list[int]:
        return sorted({c.turn for c in self.mine})

    def turn(self, turn: int) -> list[Candidate]:
        """That turn's candidates in participant order."""
        return sorted((c for c in self.mine if c.turn == turn), key=self._key)

    def last_turn(self) -> int | None:
        turns = self.turns()
        return turns[-1] if turns else None

    def latest(self) -> list[Candidate]:
        """Each participant's latest candidate, in participant order."""
        latest: dict[str, Candidate] = {}
        for c in self.mine:
            if c.participant not in latest or c.turn >= latest[c.participant].turn:
                latest[c.participant] = c
        return sorted(latest.values(), key=self._key)

    def tidy(self) -> None:
        """Puts the recorded candidates in (turn, participant) order, in place."""
        self.candidates[self._first :] = sorted(self.mine, key=lambda c: (c.turn, self._key(c)))

    def rank(self, participant: str) -> int:
        """Position in the request's order; unknown names go last."""
        return self._rank.get(participant, len(self._rank))

    def _key(self, candidate: Candidate) -> int:
        return self.rank(candidate.participant)
