"""The error types of api.md. Services raise these; the HTTP layer maps them to the envelope in
exactly one place (`stratus.api.errors`)."""

from __future__ import annotations

from typing import Any


class StratusError(Exception):
    """Base of every error a client may see. `status` and `type` come straight from api.md."""

    status: int = 500
    type: str = "InternalServerError"
    retry_after: int | None = None
    # Extra response headers (a 429's X-RateLimit-*); Retry-After comes from `retry_after`.
    headers: dict[str, str] | None = None

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class BadRequestError(StratusError):
    status = 400
    type = "BadRequestError"


class UnauthorizedError(StratusError):
    status = 401
    type = "UnauthorizedError"


class ForbiddenError(StratusError):
    status = 403
    type = "ForbiddenError"


class NotFoundError(StratusError):
    status = 404
    type = "NotFoundError"

    @classmethod
    def of(cls, resource: str, identifier: str) -> NotFoundError:
        return cls(f"{resource} '{identifier}' not found", {"resource": resource, "id": identifier})


class AlreadyExistsError(StratusError):
    status = 409
    type = "AlreadyExistsError"


class ConflictError(StratusError):
    status = 409
    type = "ConflictError"


class PayloadTooLargeError(StratusError):
    status = 413
    type = "PayloadTooLargeError"


class RequestValidationError(StratusError):
    """422 with `details.validation_errors`; named apart from pydantic's ValidationError."""

    status = 422
    type = "ValidationError"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message, {"validation_errors": errors})


class TooManyRequestsError(StratusError):
    status = 429
    type = "TooManyRequestsError"


class ServiceUnavailableError(StratusError):
    """A dependency is down. Retryable: the answer carries `Retry-After`."""

    status = 503
    retry_after = 1


class VectorStoreUnavailableError(ServiceUnavailableError):
    type = "VectorStoreUnavailableError"


class InferenceServiceUnavailableError(ServiceUnavailableError):
    type = "InferenceServiceUnavailableError"


class MetadataStoreUnavailableError(ServiceUnavailableError):
    # api.md lists two 503 types; a DynamoDB outage is reported with the same retryable status.
    type = "ServiceUnavailableError"


class BlobStoreUnavailableError(ServiceUnavailableError):
    # The data bucket (S3) is down: as retryable as any other dependency fault.
    type = "ServiceUnavailableError"
