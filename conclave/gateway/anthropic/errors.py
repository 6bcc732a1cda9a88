"""Anthropic's error shape: `{"type": "error", "error": {"type", "message"}}`.

The status comes from the gateway's one table (`gateway/errors.py`); only the body is
Anthropic's, its `type` named after the status as Anthropic names its own errors.
"""

from __future__ import annotations

from typing import Any

from conclave.gateway.errors import HttpError

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    # Anthropic says "overloaded" for a service that cannot take the request now; ours
    # keeps the table's 503 (leader unreachable, no agents, a round short of its quorum).
    503: "overloaded_error",
    504: "timeout_error",
}


def anthropic_error(mapped: HttpError, message: str, param: str | None = None) -> dict[str, Any]:
    kind = TYPES.get(
        mapped.status, "api_error" if mapped.status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": message}}
