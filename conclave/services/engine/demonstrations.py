"""What the completion-style chat format shows a base model before the conversation.

A base model answers a question well when the text it continues already holds a few
answered ones (docs/architecture.md, "Chat formats"). These are the default examples and
the line that opens the transcript; an agent's settings may replace both.
"""

from __future__ import annotations

from conclave.services.engine.types import Demonstration

# Generic on purpose: one of each kind of question people ask a small team (a fact, a sum,
# a yes/no question, a choice between options, a person, a place, an open request), each
# answered the way a vote wants it: the answer first, short. None of them is an item of a
# shipped dataset (a test checks), so the benchmarks measure the format, not a leak.
DEFAULT_DEMONSTRATIONS: tuple[Demonstration, ...] = (
    Demonstration("What is the largest planet in the Solar System?", "Jupiter."),
    Demonstration("What is 3 + 5?", "8"),
    Demonstration("Is the Pacific Ocean smaller than a lake?", "No."),
    Demonstration("Who wrote the play Hamlet?", "William Shakespeare."),
    Demonstration("What is 4 * 9?", "36"),
    Demonstration("Is a whale a mammal?", "Yes."),
    Demonstration("Which of these is a colour?\nA) Chair\nB) Red\nC) Dog", "B) Red."),
    Demonstration("In which country is the city of Kyoto?", "Japan."),
    Demonstration("Name a musical instrument.", "A guitar."),
)
DEFAULT_PREAMBLE = (
    "A conversation between a user and a helpful assistant. "
    "The assistant answers correctly and briefly."
)
