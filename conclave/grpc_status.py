"""The one table from domain errors to gRPC status codes, for every Conclave servicer."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

import grpc

from conclave.errors import (
    Cancelled,
    ConclaveError,
    DeadlineExceeded,
    InvalidRequest,
    NotFound,
    Overloaded,
    Unauthenticated,
    Unavailable,
)
from conclave.redact import redact

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[ConclaveError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Overloaded: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    Cancelled: grpc.StatusCode.CANCELLED,
}


def status_for(error: ConclaveError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


RETRY_AFTER = "retry-after-s"  # metadata of RESOURCE_EXHAUSTED: seconds to wait, a hint


async def _abort(
    context: grpc.aio.ServicerContext, error: Exception, known_secrets: Sequence[str] = ()
) -> None:
    if isinstance(error, ConclaveError):
        metadata = ()
        if isinstance(error, Overloaded):
            metadata = ((RETRY_AFTER, f"{error.retry_after_s:g}"),)
        await context.abort(status_for(error), redact(str(error), known_secrets), metadata)
    log.exception("unexpected error in a servicer", exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the service log")


T = TypeVar("T")


def unary_errors(
    method: Callable[..., Awaitable[T]],
) -> Callable[..., Awaitable[T]]:
    """Maps domain errors raised by a unary handler to their status codes. The message
    is redacted of credentials and of the servicer's `known_secrets` (its settings')."""

    @wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await method(self, request, context)
        except Exception as error:  # a bug too: it must not crash the server or leak a trace
            await _abort(context, error, getattr(self, "known_secrets", ()))
        raise AssertionError("unreachable: context.abort raises")

    return wrapper


def stream_errors(
    method: Callable[..., AsyncIterator[T]],
) -> Callable[..., AsyncIterator[T]]:
    """Same as `unary_errors`, for server-streaming handlers."""

    @wraps(method)
    async def wrapper(
        self: Any, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[T]:
        try:
            async for item in method(self, request, context):
                yield item
        except Exception as error:
            await _abort(context, error, getattr(self, "known_secrets", ()))

    return wrapper


# The same table read backwards, for the clients of a Conclave service: a status from the
# wire becomes the domain error it stood for (anything unlisted: Unavailable).
ERROR_BY_STATUS: dict[grpc.StatusCode, type[ConclaveError]] = {
    code: error for error, code in STATUS_BY_ERROR.items() if error is not Cancelled
}


def error_from_rpc(
    error: grpc.RpcError, *, where: str = "", round_id: str | None = None
) -> ConclaveError:
    """The domain error a failed call stands for. `where` prefixes the message with the
    service that failed ("agent host:port": CODE: details); `round_id` is the round the
    call had started, when a leader reported one. A RESOURCE_EXHAUSTED keeps the
    service's retry hint."""
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    # Whatever a service answered, a credential in it goes no further.
    details: str = redact(error.details() or "")  # type: ignore[attr-defined]
    message = f"{where}: {code.name}: {details}" if where else details or code.name
    cls = ERROR_BY_STATUS.get(code, Unavailable)
    if cls is Overloaded:
        mapped: ConclaveError = Overloaded(message, retry_after_s=_retry_after(error))
    else:
        mapped = cls(message)
    mapped.round_id = round_id
    return mapped


def _retry_after(error: grpc.RpcError) -> float:
    default = Overloaded("").retry_after_s
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == RETRY_AFTER:
            try:
                return float(value)
            except ValueError:
                return default
    return default
