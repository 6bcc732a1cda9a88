"""The gateway's one error table: domain errors -> OpenAI-shaped HTTP errors.

Every failure leaves the gateway as `{"error": {message, type, param, code}}` with the
status below — leader failures included (the leader client turns gRPC statuses into
domain errors first).
"""

from __future__ import annotations

import logging
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
    """The one shape of every error the gateway sends (OpenAI's)."""
    return {"error": {"message": message, "type": mapped.type, "param": param, "code": mapped.code}}


def error_body(error: Exception) -> tuple[HttpError, dict[str, Any]]:
    mapped = lookup(error)
    message = str(error) if mapped is not INTERNAL else "internal error; see the gateway log"
    return mapped, body(mapped, message, getattr(error, "field", None))


def error_response(error: Exception, retry_after_s: int | None = None) -> JSONResponse:
    mapped, content = error_body(error)
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


def install_error_handlers(app: FastAPI, retry_after_s: int) -> None:
    @app.exception_handler(ConclaveError)
    async def domain(_: Request, error: ConclaveError) -> JSONResponse:
        return error_response(error, retry_after_s)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return error_response(InvalidRequest(message, field=param))

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        # Routing's own refusals (no such path, wrong method): their status as they are.
        code = "not_found" if error.status_code == 404 else "invalid_request"
        mapped = HttpError(error.status_code, "invalid_request_error", code)
        return JSONResponse(
            body(mapped, str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        return error_response(error)
