"""`POST /v1/namespaces`: the request that creates a managed namespace (create-namespace.txt)."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from stratus import limits
from stratus.models.common import StrictModel
from stratus.models.namespaces import FeatureExtractorConfig, PayloadIndexConfig, PayloadIndexInput

# Letters, digits, "_", "-" and "." starting with a letter or digit: the seed's
# `spotify_playlists_dev` and Mixpeek-style names pass; "/" and spaces never reach a URL path.
NAMESPACE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_FEATURE_EXTRACTORS = limits.MAX_VECTOR_INDEXES  # each extractor brings one vector index


class FeatureExtractorRequest(FeatureExtractorConfig):
    """One requested extractor. Unknown fields are refused (a misspelt `parmas` must not silently
    lock the defaults in); `params: null` means no parameters."""

    model_config = ConfigDict(extra="forbid")

    feature_extractor_name: str = Field(min_length=1, max_length=128, examples=["image_extractor"])
    version: str = Field(default="v1", min_length=1, max_length=32)
    feature_extractor_id: str | None = Field(default=None, max_length=160, examples=["image_extractor_v1"])

    @field_validator("params", mode="before")
    @classmethod
    def _null_params_are_none(cls, value: Any) -> Any:
        return {} if value is None else value


class CreateNamespaceRequest(StrictModel):
    namespace_name: str = Field(
        min_length=1,
        max_length=limits.MAX_NAME_LENGTH,
        pattern=NAMESPACE_NAME_PATTERN,
        description="Unique in the organization: letters, digits, '_', '-' and '.', 1-128 characters",
        examples=["spotify_playlists_dev"],
    )
    feature_extractors: list[FeatureExtractorRequest] = Field(
        min_length=1,
        max_length=MAX_FEATURE_EXTRACTORS,
        description="At least one. Each brings its vector index and required payload indexes; "
        "its params are locked at creation.",
    )
    description: str | None = Field(default=None, max_length=limits.MAX_DESCRIPTION_LENGTH)
    payload_indexes: list[PayloadIndexInput] | None = Field(
        default=None,
        max_length=limits.MAX_PAYLOAD_INDEXES,
        description="Custom payload indexes; those required by the extractors are added automatically",
    )
    # `boolean | null` in Mixpeek's schema: null means the default, false.
    auto_create_indexes: bool | None = False

    def requested_indexes(self) -> list[PayloadIndexConfig]:
        return list(self.payload_indexes or [])
