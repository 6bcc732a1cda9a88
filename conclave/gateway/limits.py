"""Request body cap, enforced while the body streams in (not after it is all in memory)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conclave.gateway.errors import PayloadTooLarge, Shaper, error_body, shaper_for


class _TooLarge(HTTPException):
    """Raised while the body streams in. An HTTPException, because FastAPI turns any
    other error met while reading a body into a 400 (a chunked body over the cap was
    one); the app's error handlers render it as the 413 it is."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, shapers: Mapping[str, Shaper] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.shapers = dict(shapers or {})  # the refusal speaks the door's error shape

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        mapped, content = error_body(
            PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes"),
            shaper_for(scope.get("path", ""), self.shapers),
        )
        body = json.dumps(content).encode()
        await send(
            {
                "type": "http.response.start",
                "status": mapped.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
