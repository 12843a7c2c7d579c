"""Reject bodies over 6 MB before anything parses them (api.md: 413)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus import limits
from stratus.api.errors import send_envelope


class BodySizeLimit:
    """Pure ASGI middleware. Trusts a declared Content-Length to refuse early, and otherwise
    reads the (chunked) body itself, counting, then replays it to the app: the framework's own
    body parsing would turn an exception raised mid-read into a generic 400."""

    def __init__(self, app: ASGIApp, max_bytes: int = limits.MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # client went away; let the app see it
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _reject(self, send: Send) -> None:
        await send_envelope(
            send,
            413,
            "PayloadTooLargeError",
            f"request body is larger than {self.max_bytes} bytes; split the upsert into smaller batches",
            {"field": "body", "limit_bytes": self.max_bytes},
        )


def replay_body(body: bytes, receive: Receive) -> Receive:
    """`receive` with the body, already read, given once more first."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
