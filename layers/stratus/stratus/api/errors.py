"""Every failure becomes the error envelope of api.md, here and nowhere else."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stratus.errors import StratusError
from stratus.models.documents import UNION_TAGS

logger = Logger(service="stratus")

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


def error_response(
    status: int,
    error_type: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(envelope(status, error_type, message, details), status_code=status, headers=headers)


async def _stratus_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StratusError)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    if exc.status >= 500:
        logger.warning("dependency failure", extra={"error_type": exc.type, "error_message": exc.message})
    return error_response(exc.status, exc.type, exc.message, exc.details, headers)


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


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # Logged with its stack trace for operators; the client gets no internals.
    logger.exception("unhandled error")
    return error_response(500, "InternalServerError", "internal error; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StratusError, _stratus_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(Exception, _unexpected)
