"""No field is accepted and then ignored: a request field a door does not honour is a 400
that names it.

Door models keep unknown fields (`extra="allow"`) only so that this check can name each
one with the reason it is refused, rather than pydantic's generic "extra inputs".
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from conclave.errors import InvalidRequest


def refuse_extras(model: BaseModel, reasons: Mapping[str, str], where: str = "") -> None:
    """InvalidRequest for the first field of `model` that its class does not declare;
    `reasons` says why a known field of that API is not supported (yet)."""
    for key in model.model_extra or {}:
        field = f"{where}.{key}" if where else key
        reason = reasons.get(key)
        message = (
            f"{field} is not supported: {reason}" if reason else f"{field} is not a known field"
        )
        raise InvalidRequest(message, field=field)
