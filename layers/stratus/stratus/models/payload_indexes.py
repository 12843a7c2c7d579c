"""Payload-index and filter-usage requests and answers (the stored config is
`stratus.models.namespaces.PayloadIndexConfig`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from stratus.models.common import Model, StrictModel
from stratus.models.namespaces import FieldSchema, PayloadIndexConfig, PayloadIndexType, check_field_schema


class CreatePayloadIndexRequest(StrictModel):
    """One index; `type` and `field_type` are both accepted (Mixpeek's docs use both)."""

    field_name: str = Field(min_length=1, max_length=256, description="Dot path into the payload")
    type: PayloadIndexType = Field(validation_alias=AliasChoices("type", "field_type"))
    field_schema: FieldSchema | None = None
    # Accepted for round-trips of a listed index; the server decides what is protected.
    is_protected: bool = False

    @field_validator("field_name")
    @classmethod
    def _no_empty_segments(cls, value: str) -> str:
        if any(part == "" for part in value.split(".")):
            raise ValueError("field_name must be a dot path without empty segments, e.g. 'metadata.title'")
        return value

    @field_validator("field_schema")
    @classmethod
    def _valid_options(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        # `type` is validated first (field order); when it failed, its own error is the answer.
        if "type" in info.data:
            check_field_schema(info.data["type"], value)
        return value

    def to_config(self) -> PayloadIndexConfig:
        return PayloadIndexConfig(field_name=self.field_name, type=self.type, field_schema=self.field_schema)


class PayloadIndexResponse(Model):
    namespace_id: str
    # The index as it stands after the build: `ready`, or `failed` with `error`.
    payload_index: PayloadIndexConfig
    payload_indexes: list[PayloadIndexConfig]


class FieldFilterUsage(Model):
    field_name: str
    query_count: int = Field(description="Filtered searches on this field in the window")
    value_types: dict[str, int] = Field(description="Searches per value type seen (keyword, integer, ...)")
    indexed: bool
    index_type: PayloadIndexType | None = None
    index_state: Literal["pending", "ready", "failed"] | None = None
    is_protected: bool = False
    above_threshold: bool = Field(description="query_count > threshold: the next scheduled run indexes it")


class FilterUsageResponse(Model):
    namespace_id: str
    auto_create_indexes: bool
    threshold: int
    window_hours: int
    window_start: str
    window_end: str
    fields: list[FieldFilterUsage]


class FailedIndex(Model):
    field_name: str
    error: str


class EnsureIndexesResponse(Model):
    """`ensure-indexes` (Mixpeek's `{ensured, rebuilt, skipped, created}`, plus `failed`)."""

    namespace_id: str
    vector_indexes: list[str] = Field(description="Vector indexes whose spaces exist (created if missing)")
    ensured: list[str] = Field(description="Payload index fields now ready in the store")
    created: list[str] = Field(description="Built by this call (they were pending or failed)")
    rebuilt: list[str] = Field(description="Ready before, rebuilt because force_rebuild was set")
    skipped: list[str] = Field(description="Ready already: left as they are")
    failed: list[FailedIndex]
    payload_indexes: list[PayloadIndexConfig]


class DeletePayloadIndexResponse(Model):
    namespace_id: str
    field_name: str
    deleted: bool
    payload_indexes: list[PayloadIndexConfig]
