"""Nothing a request holds is silently ignored.

A request field the gateway does not implement is a 400 naming it, unless it is sent at
the value that asks for nothing (`logprobs: false`, `frequency_penalty: 0`, `audio:
null`, ...): stock clients send those, and they mean what Conclave does anyway. The
list is in docs/gateway.md ("Fields Conclave does not implement").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conclave.errors import InvalidRequest

_NULL = (None,)

# field -> the values that ask for nothing (the field's OpenAI default and null)
REQUEST: Mapping[str, tuple[Any, ...]] = {
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
    "logit_bias": (None, {}),
    "audio": _NULL,
    "modalities": (None, ["text"]),
    "prediction": _NULL,
    "functions": (None, []),
    "function_call": (None, "none"),
    "web_search_options": _NULL,
    "reasoning_effort": _NULL,
    "verbosity": _NULL,
    "service_tier": (None, "auto", "default"),
    "store": (None, False),
    "metadata": (None, {}),
    "prompt_cache_key": _NULL,
    "safety_identifier": _NULL,
    # legacy completions
    "echo": (None, False),
    "best_of": (None, 1),
    "suffix": (None, ""),
}

# A message's fields that an assistant reply carries (a client may send the reply back
# whole): accepted while they say nothing.
MESSAGE: Mapping[str, tuple[Any, ...]] = {
    "refusal": _NULL,
    "audio": _NULL,
    "function_call": _NULL,
    "annotations": (None, []),
}


def refuse(
    extra: Mapping[str, Any] | None, known: Mapping[str, tuple[Any, ...]], where: str
) -> None:
    """InvalidRequest for the first field of `extra` that asks for something Conclave
    does not do; `where` prefixes the field's name (e.g. "messages[2].")."""
    for name, value in (extra or {}).items():
        neutral = known.get(name)
        if neutral is None:
            raise InvalidRequest(
                f"{where}{name} is not a field Conclave knows; see docs/gateway.md",
                field=f"{where}{name}",
            )
        if not any((value == v and type(value) is type(v)) or value is v for v in neutral):
            allowed = ", ".join("null" if v is None else repr(v) for v in neutral)
            raise InvalidRequest(
                f"{where}{name} is not implemented by Conclave (accepted only as {allowed})",
                field=f"{where}{name}",
            )
