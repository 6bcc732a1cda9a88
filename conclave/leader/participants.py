"""Who may speak in a round: configured participants plus voices on discovered agents."""

from __future__ import annotations

from collections.abc import Sequence

from conclave.errors import NotFound, Unavailable
from conclave.leader.discovery import AgentDirectory
from conclave.leader.settings import ParticipantConfig
from conclave.leader.types import Participant


def _voice_names(base: str, count: int) -> list[str]:
    return [base if i == 0 else f"{base}-{i + 1}" for i in range(count)]


class ParticipantRegistry:
    def __init__(
        self,
        directory: AgentDirectory,
        *,
        configured: Sequence[ParticipantConfig],
        per_agent: int,
        voice_models: Sequence[str] = (),
    ) -> None:
        self._directory = directory
        self._configured = tuple(configured)
        self._per_agent = per_agent
        self._voice_models = tuple(voice_models)

    def all(self) -> list[Participant]:
        """Configured participants first (in config order), then `per_agent` voices for
        every other live agent, named after the agent (`name-2`, `name-3` for extras),
        voice i asking for `voice_models[i % len]` (none given: the agent's default)."""
        names = {e.address: e.name for e in self._directory.entries()}
        people = [
            Participant(
                name=c.name,
                address=c.address,
                agent=names.get(c.address, ""),
                system_prompt=c.system_prompt,
                weight=c.weight,
                temperature=c.temperature,
                top_p=c.top_p,
                max_tokens=c.max_tokens,
                seed_offset=c.seed_offset,
                model=c.model,
            )
            for c in self._configured
        ]
        covered = {p.address for p in people}
        taken = {p.name for p in people}
        for entry in self._directory.entries():
            if entry.address in covered:
                continue
            names = _voice_names(entry.name, self._per_agent)
            if taken & set(names):  # a clash: qualify this agent's voices by its address
                names = _voice_names(f"{entry.name}@{entry.address}", self._per_agent)
            for i, name in enumerate(names):
                taken.add(name)
                people.append(
                    Participant(
                        name=name,
                        address=entry.address,
                        agent=entry.name,
                        seed_offset=i,
                        model=self._voice_model(i),
                    )
                )
        return people

    def _voice_model(self, voice: int) -> str:
        models = self._voice_models
        return models[voice % len(models)] if models else ""

    def select(self, names: Sequence[str]) -> list[Participant]:
        everyone = self.all()
        if not everyone:
            raise Unavailable("no agent services are known to this leader yet")
        if not names:
            return everyone
        by_name = {p.name: p for p in everyone}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise NotFound(
                f"unknown participant(s) {', '.join(missing)}; live participants: "
                f"{', '.join(by_name)}"
            )
        return [by_name[n] for n in dict.fromkeys(names)]
