"""Structured answers: what a round's voices must answer (JSON under a schema, a tool
call, or plain text), the texts that tell them, and how their replies read and vote.

`OutputSpec.of(request)` is the entry point (see `spec.py`); `render.py` holds every
text a voice reads about it; `schemas.py` checks JSON Schemas and validates answers.
"""

from conclave.leader.structured.spec import PLAIN, OutputSpec, Reply

__all__ = ["PLAIN", "OutputSpec", "Reply"]
