"""What the quality benchmark asks: its tasks, the plays of a round, the teams, and what
one round's answer is reduced to (shared by the benchmark and its report)."""

from __future__ import annotations

from dataclasses import dataclass, field

from conclave.services.model_source import GEMMA, SMOLLM2

VOICES = 7


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    file: str
    scorer: str | dict[str, object]


TASKS: tuple[Task, ...] = (
    Task("capitals", "capitals.jsonl", "contains"),
    Task("mixed facts", "facts.jsonl", "contains"),
    Task("sums and products", "sums_products.jsonl", "numeric"),
    Task("multiple choice", "science_mc.jsonl", "choice"),
    Task("yes/no", "yes_no.jsonl", {"kind": "choice", "choices": ["yes", "no"]}),
)


@dataclass(frozen=True, slots=True)
class Play:
    id: str
    strategy: str
    voices: int
    method: str = "majority"
    params: dict[str, str] = field(default_factory=dict)
    greedy: bool = False


VOTES = Play("votes", "vote", VOICES, params={"early_stop": "false"})
GREEDY = Play("greedy", "vote", 1, greedy=True)
CONVERSATIONS: tuple[Play, ...] = (
    Play("parallel", "parallel", 3, params={"critique_rounds": "1", "stop_on_agreement": "false"}),
    Play("moa", "moa", 3, params={"layers": "1"}),
    Play("judge", "vote", 3, method="judge"),
)
# Alone, one round at a time, on every COST_EVERY-th item: the wall time of each way.
COST_VOTES: tuple[Play, ...] = tuple(Play(f"cost-{k}", "vote", k) for k in (1, 3, 5, VOICES))


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    models: tuple[str, ...]  # one per voice, in voice order
    temperature: float
    plays: tuple[Play, ...] = (VOTES, GREEDY, *CONVERSATIONS)

    def participant(self, i: int) -> str:
        return f"{self.name}-{i + 1}"


def _alternating(*models: str) -> tuple[str, ...]:
    return tuple(models[i % len(models)] for i in range(VOICES))


# Model ids of the bench's agent (AGENT_MODELS): both bundled models, SmolLM2 twice.
SMOLLM2_TEMPLATE = "smollm2-template"
AGENT_MODELS = (
    {"id": GEMMA.id, "path": GEMMA.id},
    {"id": SMOLLM2.id, "path": SMOLLM2.id},
    {"id": SMOLLM2_TEMPLATE, "path": SMOLLM2.id, "chat_format": "template"},
)
TEAMS: tuple[Team, ...] = (
    Team("gemma", _alternating(GEMMA.id), 0.5),
    Team("smollm2", _alternating(SMOLLM2.id), 0.5),
    Team("smollm2-template", _alternating(SMOLLM2_TEMPLATE), 0.5, plays=(VOTES, GREEDY)),
    Team("mixed", _alternating(GEMMA.id, SMOLLM2.id), 0.5),
)
DEFAULT_TEAM = "smollm2"  # the team whose voices `conclave up` starts


@dataclass(frozen=True, slots=True)
class Answer:
    """What one round said about one item, reduced to what the report needs."""

    task: str
    team: str
    play: str
    item: str
    status: str  # decided | no_quorum | failed | error: ...
    correct: bool
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    answer: str
    alone: bool = False  # a cost round: asked with nothing else running
    # `votes` only: each voice's correctness and tokens, and the first-k votes.
    voices_correct: tuple[bool, ...] = ()
    voices_tokens: tuple[int, ...] = ()
    first_k_correct: dict[int, bool] = field(default_factory=dict)
