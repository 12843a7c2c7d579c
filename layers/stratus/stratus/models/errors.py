"""The error envelope, declared so the OpenAPI spec documents every failure answer."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from stratus.models.common import Model


class ErrorBody(Model):
    type: str = Field(examples=["NotFoundError"])
    message: str = Field(examples=["namespace 'legal-docs' not found"])
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(Model):
    success: bool = False
    status: int
    error: ErrorBody
