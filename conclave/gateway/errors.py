"""The gateway's one error table: domain errors -> HTTP errors.

Every failure leaves the gateway with the status below — leader failures included (the
leader client turns gRPC statuses into domain errors first). The status comes from this
table alone; only the body's *shape* differs by door: OpenAI's
`{"error": {message, type, param, code}}` by default, another API's own shape for the
paths a `Shaper` is installed for (`/v1/messages`: Anthropic's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from conclave.errors import (
    Cancelled,
    ConclaveError,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    Overloaded,
    Unavailable,
)
from conclave.redact import redact

log = logging.getLogger(__name__)


class AuthenticationFailed(ConclaveError):
    """Missing or wrong API key."""


class PayloadTooLarge(InvalidRequest):
    """The body is over the size cap (see `limits.BodyLimit`)."""


@dataclass(frozen=True, slots=True)
class HttpError:
    status: int
    type: str
    code: str


ERROR_TABLE: dict[type[ConclaveError], HttpError] = {
    PayloadTooLarge: HttpError(413, "invalid_request_error", "payload_too_large"),
    InvalidRequest: HttpError(400, "invalid_request_error", "invalid_request"),
    AuthenticationFailed: HttpError(401, "authentication_error", "invalid_api_key"),
    NotFound: HttpError(404, "invalid_request_error", "not_found"),
    Overloaded: HttpError(429, "rate_limit_error", "overloaded"),
    Cancelled: HttpError(499, "invalid_request_error", "cancelled"),
    Unavailable: HttpError(503, "service_unavailable_error", "unavailable"),
    DeadlineExceeded: HttpError(504, "timeout_error", "timeout"),
}
INTERNAL = HttpError(500, "internal_error", "internal_error")


def lookup(error: Exception) -> HttpError:
    for cls in type(error).__mro__:
        if cls in ERROR_TABLE:
            return ERROR_TABLE[cls]
    return INTERNAL


def body(mapped: HttpError, message: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: the default one."""
    return {"error": {"message": message, "type": mapped.type, "param": param, "code": mapped.code}}


# Shapes one mapped error (status and OpenAI type/code from the table, the message, the
# offending parameter) into a door's error body.
Shaper = Callable[[HttpError, str, str | None], dict[str, Any]]


def shaper_for(path: str, shapers: Mapping[str, Shaper]) -> Shaper:
    """The shape of errors on `path`: the longest matching prefix in `shapers`, else
    OpenAI's."""
    for prefix in sorted(shapers, key=len, reverse=True):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return shapers[prefix]
    return body


def error_body(
    error: Exception, shape: Shaper = body, known_secrets: Sequence[str] = ()
) -> tuple[HttpError, dict[str, Any]]:
    """The status and body of `error`. Its message is redacted: an upstream's text may
    hold a credential (conclave.redact), and `known_secrets` (the gateway's API key)
    never leave in a body."""
    mapped = lookup(error)
    message = str(error) if mapped is not INTERNAL else "internal error; see the gateway log"
    return mapped, shape(mapped, redact(message, known_secrets), getattr(error, "field", None))


def error_response(
    error: Exception,
    retry_after_s: int | None = None,
    shape: Shaper = body,
    known_secrets: Sequence[str] = (),
) -> JSONResponse:
    mapped, content = error_body(error, shape, known_secrets)
    if mapped is INTERNAL:
        log.error("unexpected error", exc_info=error)
    headers = {}
    if mapped.status == 429:
        headers["Retry-After"] = str(retry_after_s or getattr(error, "retry_after_s", 1) or 1)
    if mapped.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(content, status_code=mapped.status, headers=headers)


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    first = error.errors()[0] if error.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(location) or None
    return f"{param or 'body'}: {first.get('msg', 'invalid request')}", param


def install_error_handlers(
    app: FastAPI,
    retry_after_s: int,
    shapers: Mapping[str, Shaper] | None = None,
    known_secrets: Sequence[str] = (),
) -> None:
    """`shapers`: path prefix -> the error shape of the door served there;
    `known_secrets`: masked in every error body."""
    shapers = dict(shapers or {})

    def shape(request: Request) -> Shaper:
        return shaper_for(request.url.path, shapers)

    @app.exception_handler(ConclaveError)
    async def domain(request: Request, error: ConclaveError) -> JSONResponse:
        return error_response(error, retry_after_s, shape(request), known_secrets)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return error_response(
            InvalidRequest(message, field=param), shape=shape(request), known_secrets=known_secrets
        )

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        # Routing's own refusals (no such path, wrong method): their status as they are.
        if error.status_code == 413:  # a body over the cap, found while it streamed in
            mapped = ERROR_TABLE[PayloadTooLarge]
        else:
            code = "not_found" if error.status_code == 404 else "invalid_request"
            mapped = HttpError(error.status_code, "invalid_request_error", code)
        return JSONResponse(
            shape(request)(mapped, str(error.detail), None),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        return error_response(error, shape=shape(request), known_secrets=known_secrets)
