"""What a failure of the Pinecone client means (retry it, refuse the input, or report an outage),
and the error the caller sees once the retries are spent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.retry import backoff_delay, retry_after_seconds, unavailable
from stratus.errors import BadRequestError, PayloadTooLargeError, StratusError, VectorStoreUnavailableError

T = TypeVar("T")

_RETRYABLE_STATUSES = frozenset({408, 429})
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 8.0
# A Retry-After longer than this is not waited for: the caller gets the 503 and the hint at once.
MAX_RETRY_AFTER_SECONDS = 20.0
# Pinecone's own message is added to refusals (they name the broken limit); capped in length.
_MAX_SERVER_MESSAGE = 300


@dataclass(frozen=True)
class Failure:
    retryable: bool
    description: str
    status: int | None = None
    retry_after: float | None = None
    message: str = ""


def classify(exc: BaseException) -> Failure | None:
    """What a failure of the client means; None for anything that is not one (our bugs)."""
    from pinecone.errors.exceptions import (
        ApiError,
        PineconeConnectionError,
        PineconeError,
        PineconeTimeoutError,
        PineconeTypeError,
        PineconeValueError,
    )

    if isinstance(exc, PineconeTimeoutError):
        return Failure(True, "timed out")
    if isinstance(exc, PineconeConnectionError):
        return Failure(True, "connection failed")
    if isinstance(exc, ApiError):
        status = int(exc.status_code)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        message = str(getattr(exc, "message", "") or "")[:_MAX_SERVER_MESSAGE]
        return Failure(retryable, f"HTTP {status}", status, _retry_after(exc), message)
    if isinstance(exc, PineconeValueError | PineconeTypeError):
        # The client refused the request before sending it: input we should have caught.
        return Failure(False, "refused by the client", 400, None, str(exc)[:_MAX_SERVER_MESSAGE])
    if isinstance(exc, PineconeError):
        return Failure(False, type(exc).__name__)
    if isinstance(exc, OSError):
        return Failure(True, type(exc).__name__)
    return None


def _retry_after(exc: Any) -> float | None:
    value = getattr(exc, "retry_after", None)
    if value is None:
        headers = getattr(exc, "headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    # An HTTP date is not honoured: our own backoff applies then.
    return retry_after_seconds(str(value) if value is not None else None, http_dates=False)


def retry_delay(attempt: int, failure: Failure, max_attempts: int) -> float | None:
    """Seconds to wait before the next attempt; None when there is none."""
    if not failure.retryable or attempt >= max_attempts:
        return None
    delay = backoff_delay(attempt, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS)
    if failure.retry_after is not None:
        if failure.retry_after > MAX_RETRY_AFTER_SECONDS:
            return None
        delay = max(delay, failure.retry_after)
    return delay


def failure_error(operation: str, space: str, failure: Failure, attempts: int) -> StratusError:
    details: dict[str, Any] = {"operation": operation, "space": space, "vector_store": STORE_NAME}
    said = f": {failure.message}" if failure.message else ""
    if failure.status == 413:
        return PayloadTooLargeError(
            f"the '{STORE_NAME}' vector store refused {operation} on space '{space}' as too large{said}",
            details,
        )
    if failure.status == 400:
        return BadRequestError(
            f"the '{STORE_NAME}' vector store refused {operation} on space '{space}'{said}", details
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return unavailable(
        VectorStoreUnavailableError,
        f"vector store unavailable: {operation} on space '{space}' failed "
        f"({failure.description}{said}){tries}",
        {**details, "attempts": attempts},
        failure.retry_after,
    )


def ignore_not_found(fn: Callable[[], T]) -> T | None:
    """`fn()`, or None when Pinecone answers 404 (a missing index or namespace)."""
    from pinecone.errors.exceptions import NotFoundError

    try:
        return fn()
    except NotFoundError:
        return None


def unavailable_store(reason: str, details: dict[str, Any] | None = None) -> VectorStoreUnavailableError:
    """The store cannot be used at all (no key, no client): a 503 naming it."""
    return unavailable(
        VectorStoreUnavailableError,
        f"vector store '{STORE_NAME}' is unavailable: {reason}",
        {**(details or {}), "vector_store": STORE_NAME},
    )
