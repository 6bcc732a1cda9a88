"""Text that arrives at the gateway is Unicode, checked once, where the body is read.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`): Python decodes it into a str that
no UTF-8 encoder accepts, so it used to travel until protobuf refused it on the way to
the leader, as a 500. Each door's request model runs `refuse_lone_surrogates` before
its fields are read, and the 400 names the field that holds one.
"""

from __future__ import annotations

from typing import Any

from conclave.errors import InvalidRequest


def refuse_lone_surrogates(data: Any) -> Any:
    """A pydantic `model_validator(mode="before")` body: `data` unchanged, or
    InvalidRequest naming the first field (or key) whose text is not Unicode. Raised as
    InvalidRequest, not ValueError, so pydantic passes it on to the gateway's one error
    table with its field."""
    where = lone_surrogate_at(data)
    if where is not None:
        raise InvalidRequest(
            f"{where}: the text holds a lone UTF-16 surrogate (such as \\ud800), which is "
            "not a Unicode character; send valid UTF-8 text",
            field=where,
        )
    return data


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The path (`messages[0].content`) of the first string in `value` (dict keys
    included) that cannot be encoded as UTF-8; None when every string can."""
    if isinstance(value, str):
        return path or "body" if not _encodable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not _encodable(key):
                return path or "body"
            found = lone_surrogate_at(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _encodable(text: str) -> bool:
    # Paired surrogates were already joined by the JSON decoder: any left is lone.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
