"""A request that is not a valid protobuf message is the caller's error, not ours.

grpc answers a request its deserializer cannot parse with UNKNOWN and logs an ERROR with
a traceback, per request: a client sending bad bytes (or text that is not UTF-8 in a
string field, which protobuf refuses) fills the log and looks like a server bug. This
interceptor lets the deserializer fail softly and answers INVALID_ARGUMENT, logging a
WARNING at most once per peer address.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

log = logging.getLogger(__name__)

# Peers remembered for "already logged"; past it, further peers are logged at DEBUG only
# (a scan from many addresses must not grow memory or the log without bound).
MAX_PEERS_LOGGED = 1024


class _Undecodable:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class UndecodableRequests(grpc.aio.ServerInterceptor):
    def __init__(self) -> None:
        self._logged: set[str] = set()
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        if method in self._handlers:
            return self._handlers[method]
        handler = await continuation(details)
        wrapped = self._wrap(handler, method)
        if wrapped is not handler:
            self._handlers[method] = wrapped  # one wrapper per method, made once
        return wrapped

    def _wrap(self, handler: Any, method: str) -> Any:
        if handler is None or handler.request_deserializer is None:
            return handler
        if handler.request_streaming:
            return handler  # no client-streaming methods of ours; reflection is left alone
        decode = handler.request_deserializer

        def tolerant(data: bytes) -> Any:
            try:
                return decode(data)
            except Exception as error:  # protobuf's DecodeError, or anything a parser raises
                return _Undecodable(error)

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if isinstance(request, _Undecodable):
                    await self._refuse(context, method, request)
                return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=tolerant,
                response_serializer=handler.response_serializer,
            )
        inner_stream = handler.unary_stream
        if inner_stream is None or not inspect.isasyncgenfunction(inner_stream):
            return handler  # a handler writing through context.write (health's Watch)

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, _Undecodable):
                await self._refuse(context, method, request)
            async for item in inner_stream(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=tolerant, response_serializer=handler.response_serializer
        )

    async def _refuse(
        self, context: grpc.aio.ServicerContext, method: str, request: _Undecodable
    ) -> None:
        peer = (context.peer() or "unknown").rsplit(":", 1)[0]  # the address, not the port
        if peer not in self._logged and len(self._logged) < MAX_PEERS_LOGGED:
            self._logged.add(peer)
            log.warning(
                "%s sent %s a request that is not a valid protobuf message (%s); further "
                "ones from it are refused without a log line",
                peer,
                method,
                request.error,
            )
        else:
            log.debug("undecodable request to %s from %s", method, peer)
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"the request is not a valid {method.rsplit('/', 1)[-1]} message: {request.error}",
        )
