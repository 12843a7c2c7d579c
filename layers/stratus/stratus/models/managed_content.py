"""Managed content: buckets (S3 prefixes objects land in), collections (a bucket source + a feature
extractor writing into one vector index of a managed namespace) and tasks (async work records).

The stored records carry `org_id` (every item belongs to one organization); the answers do not."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from stratus import limits
from stratus.models.common import StrictModel

TaskStatus = Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]

# ---------------------------------------------------------------------------------------------
# Buckets


class CreateBucketRequest(StrictModel):
    bucket_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    bucket_schema: dict[str, Any] | None = None


class BucketModel(BaseModel):
    """The answer of every bucket route."""

    bucket_id: str
    bucket_name: str
    description: str | None = None
    bucket_schema: dict[str, Any] | None = None
    # Fixed at creation: a later change of STRATUS_DATA_BUCKET must not move existing objects.
    s3_uri: str
    namespace_id: str
    created_at: str
    object_count: int = 0


class Bucket(BucketModel):
    """The stored record."""

    org_id: str


# ---------------------------------------------------------------------------------------------
# Collections


class CollectionSource(StrictModel):
    type: Literal["bucket"] = "bucket"
    bucket_ids: list[str] = Field(min_length=1, max_length=100)


class CollectionExtractorRequest(StrictModel):
    feature_extractor_name: str = Field(min_length=1, max_length=128)
    version: str = Field(default="v1", min_length=1, max_length=32)
    feature_extractor_id: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Object property → extractor input (e.g. {"text": "content"}); kept for the pipeline.
    input_mappings: dict[str, Any] = Field(default_factory=dict)


class CollectionExtractor(BaseModel):
    """The extractor as locked in at creation: every parameter, defaults applied."""

    feature_extractor_name: str
    version: str
    feature_extractor_id: str
    parameters: dict[str, Any]
    input_mappings: dict[str, Any] = Field(default_factory=dict)
    inference_service: str


class CreateCollectionRequest(StrictModel):
    collection_name: str = Field(min_length=1, max_length=limits.MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    source: CollectionSource
    feature_extractor: CollectionExtractorRequest


class CollectionModel(BaseModel):
    """The answer of every collection route."""

    collection_id: str
    collection_name: str
    description: str | None = None
    source: CollectionSource
    feature_extractor: CollectionExtractor
    # The namespace vector index this collection's documents are written to.
    vector_index: str
    enabled: bool = True
    namespace_id: str
    created_at: str


class Collection(CollectionModel):
    org_id: str


# ---------------------------------------------------------------------------------------------
# Tasks


class TaskModel(BaseModel):
    task_id: str
    task_type: str
    status: TaskStatus
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class Task(TaskModel):
    org_id: str
    namespace_id: str
    created_at: str
    updated_at: str
