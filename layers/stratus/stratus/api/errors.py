"""Every failure becomes the error envelope of api.md, here and nowhere else."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stratus.errors import StratusError
from stratus.observability import log_unexpected, logger
from stratus.wire_logs import quiet_sdk_wire_logs

_HTTP_TYPES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "TooManyRequestsError",
}


def envelope(
    status: int, error_type: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "success": False,
        "status": status,
        "error": {"type": error_type, "message": message, "details": details or {}},
    }


class _EnvelopeResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            # A message or detail quoting a lone surrogate the request carried: UTF-8 cannot hold
            # it, a JSON escape can (and the client reads the same text).
            return json.dumps(content, separators=(",", ":")).encode("ascii")


async def send_envelope(
    send: Send, status: int, error_type: str, message: str, details: dict[str, Any] | None = None
) -> None:
    """The envelope as a raw ASGI response, for middleware that answers without the app."""
    raw = json.dumps(envelope(status, error_type, message, details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def error_response(
    status: int,
    error_type: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return _EnvelopeResponse(
        envelope(status, error_type, message, details), status_code=status, headers=headers
    )


async def _stratus_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StratusError)
    headers = dict(exc.headers or {})
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status >= 500:
        logger.warning("dependency failure", extra={"error_type": exc.type, "error_message": exc.message})
    return error_response(exc.status, exc.type, exc.message, exc.details, headers or None)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_describe(error) for error in exc.errors()]
    if any(error["type"] == "json_invalid" for error in errors):
        return error_response(
            400, "BadRequestError", "request body is not valid JSON", {"validation_errors": errors}
        )
    first = errors[0] if errors else {"location": "body", "message": "invalid request"}
    message = f"{first['location']}: {first['message']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s), see details.validation_errors)"
    return error_response(422, "ValidationError", message, {"validation_errors": errors})


def _describe(error: Any) -> dict[str, str]:
    # Imported here: the document models are not worth loading at cold start for a constant that
    # only a validation error needs (most functions never load them).
    from stratus.models.documents import UNION_TAGS

    # FastAPI locations start with where the value came from ("body", "query", "path").
    parts = [str(part) for part in error.get("loc", ())]
    if parts and parts[0] in ("body", "query", "path", "header"):
        origin, parts = parts[0], parts[1:]
    else:
        origin = "body"
    # Tagged-union members add their tag after a vectors map key: documents.0.vectors.emb.vector.1
    parts = [
        part
        for i, part in enumerate(parts)
        if not (i >= 2 and parts[i - 2] == "vectors" and part in UNION_TAGS)
    ]
    location = "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in parts).lstrip(".") or origin
    return {
        "type": str(error.get("type", "value_error")),
        "location": location,
        "message": str(error.get("msg", "")),
    }


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_type = _HTTP_TYPES.get(
        exc.status_code, "BadRequestError" if exc.status_code < 500 else "InternalServerError"
    )
    message = str(exc.detail) if exc.status_code != 404 else "no such route; see /docs for the API"
    return error_response(exc.status_code, error_type, message, headers=getattr(exc, "headers", None))


async def _too_deep(_: Request, exc: Exception) -> JSONResponse:
    return error_response(400, "BadRequestError", "request body is nested too deeply", {"field": "body"})


_INTERNAL_MESSAGE = "internal error; it has been logged"


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Only reached by a failure outside `UnexpectedErrors` (in an outer middleware).
    log_unexpected(exc)
    return error_response(500, "InternalServerError", _INTERNAL_MESSAGE)


class UnexpectedErrors:
    """Pure ASGI middleware inside the app's others: an unhandled error becomes the 500 envelope,
    logged once by `log_unexpected`, and goes no further. (Starlette's own catch-all answers,
    then re-raises for the server to log, and Mangum or uvicorn would log it again with its
    message.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            log_unexpected(exc)
            if started:  # too late for an envelope; the client sees a cut-off response
                return
            await send_envelope(send, 500, "InternalServerError", _INTERNAL_MESSAGE)


def install_error_handlers(app: FastAPI) -> None:
    quiet_sdk_wire_logs()
    app.add_exception_handler(StratusError, _stratus_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(UnexpectedErrors)
