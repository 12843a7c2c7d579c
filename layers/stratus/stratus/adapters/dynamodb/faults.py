"""The one place where DynamoDB's failures become `MetadataStoreUnavailableError` (a retryable
503), and what a cancelled transaction says about each of its items."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

# botocore.exceptions is light; boto3 itself is imported where a client is built (client.py).
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from stratus.adapters.retry import unavailable
from stratus.errors import MetadataStoreUnavailableError

P = ParamSpec("P")
R = TypeVar("R")

# Error codes that mean "DynamoDB is overloaded or down", not "your request is wrong".
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
# Per-item reasons inside a cancelled transaction that are transient (retry will likely pass).
TRANSIENT_CANCELLATION_CODES = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
CONDITION_FAILED = "ConditionalCheckFailed"


def unavailable_error(cause: Exception) -> MetadataStoreUnavailableError:
    # The message must not leak endpoints or request details to API clients.
    return unavailable(
        MetadataStoreUnavailableError,
        "the metadata store is temporarily unavailable; retry the request",
        {"dependency": "dynamodb", "reason": type(cause).__name__},
    )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def maps_dependency_faults(method: Callable[P, R]) -> Callable[P, R]:
    """Turn connection failures, timeouts and throttling into a retryable 503; anything else
    (validation errors, a missing table, ...) is a bug or a misconfiguration and propagates."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (BotocoreConnectionError, HTTPClientError) as error:
            # Covers EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, closed sockets.
            raise unavailable_error(error) from error
        except ClientError as error:
            if error_code(error) in UNAVAILABLE_CODES:
                raise unavailable_error(error) from error
            raise

    return wrapper


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    """One entry per transaction item, in request order (`Code` is "None" for items that passed)."""
    return [dict(reason) for reason in error.response.get("CancellationReasons") or []]


def cancellation_codes(error: ClientError) -> list[str]:
    return [str(reason.get("Code", "None")) for reason in cancellation_reasons(error)]


def is_cancelled_transaction(error: ClientError) -> bool:
    return error_code(error) == "TransactionCanceledException"


def raise_if_transient(error: ClientError) -> None:
    if any(code in TRANSIENT_CANCELLATION_CODES for code in cancellation_codes(error)):
        raise unavailable_error(error) from error
