"""Canonical JSON: one spelling per value, so structured answers agree exactly when their
values do.

Objects have their keys sorted, there is no whitespace, strings are written as UTF-8
(not escaped), and numbers are normalized: an integral number is an integer (`1.0`,
`1e0` and `1` are all `1`), any other keeps Python's shortest round-tripping spelling
(`0.50` is `0.5`), and `-0` is `0`. Non-finite numbers (which JSON has no spelling for)
never come out of `json.loads` here: `NaN` and `Infinity` make the text unparseable.
"""

from __future__ import annotations

import json
import math
from typing import Any

_SENTINEL = object()


def parse_json(text: str) -> Any:
    """The JSON value of `text`, or `NO_VALUE` when it is not exactly one JSON value."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return NO_VALUE


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


NO_VALUE: Any = _SENTINEL


def normalize(value: Any) -> Any:
    """`value` with every number normalized (see the module docstring)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 2**63:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item) for item in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def canonical(value: Any) -> str:
    """The canonical JSON text of a JSON value."""
    return json.dumps(normalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
