"""`POST /v1/namespaces`: the request that creates a managed namespace (create-namespace.txt)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from stratus import limits
from stratus.models.common import StrictModel
from stratus.models.namespaces import FeatureExtractorConfig, PayloadIndexConfig, PayloadIndexInput
from stratus.models.sdk_fields import NotApplied, ReportsUnapplied

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


# Fields of the SDK's CreateNamespaceRequest / PatchNamespaceRequest Stratus does not apply.
NAMESPACE_NOT_APPLIED: dict[str, NotApplied] = {
    "namespace_type": NotApplied("Stratus has no marketplace namespaces", ("standard",)),
    "scope": NotApplied("every Stratus namespace belongs to the caller's organization", ("org",)),
    "features": NotApplied("feature flags are Mixpeek's; a Stratus namespace's features are its extractors"),
    "vector_configs": NotApplied(
        "a managed namespace's vector indexes come from its feature_extractors; bring your own vectors "
        "with POST /v1/namespaces/standalone"
    ),
    "adaptive_indexing": NotApplied("use auto_create_indexes: Stratus indexes heavily filtered fields"),
    "ttl_seconds": NotApplied("namespaces do not expire; delete one with DELETE /v1/namespaces/{id}"),
    "expires_at": NotApplied("namespaces do not expire; delete one with DELETE /v1/namespaces/{id}"),
    "infrastructure": NotApplied("Stratus is serverless: there is no cluster to size"),
    "trusted_issuers": NotApplied("Stratus authenticates API keys only"),
    "tiering": NotApplied("Stratus keeps every vector in one tier"),
    "spend_budget": NotApplied("Stratus has no spend budgets"),
    "cost_cap_override": NotApplied("Stratus has no cost caps"),
    "pinned": NotApplied("Stratus does not pin namespaces"),
    "repair_vectors": NotApplied("vectors are written whole; there is nothing to repair"),
}
Json = dict[str, Any]


class CreateNamespaceRequest(ReportsUnapplied, StrictModel):
    NOT_APPLIED: ClassVar[dict[str, NotApplied]] = NAMESPACE_NOT_APPLIED

    namespace_id: str | None = Field(
        default=None,
        pattern=limits.NAMESPACE_ID_PATTERN,
        description="Optional caller-chosen id (lowercase letters, digits and '-'); default ns_<random>",
    )
    mode: Literal["managed"] = Field(
        default="managed",
        description="Always managed here (the SDK sends it); for standalone: POST /v1/namespaces/standalone",
    )
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
    # Accepted (the SDK's CreateNamespaceRequest defines them), reported in `warnings`.
    namespace_type: Literal["standard", "marketplace"] | None = None
    scope: Literal["org", "system"] | None = None
    features: list[str] | None = None
    vector_configs: list[Json] | None = None
    adaptive_indexing: bool | None = None
    ttl_seconds: int | None = Field(default=None, ge=60)
    infrastructure: Json | None = None
    trusted_issuers: list[Json] | None = Field(default=None, max_length=5)
    tiering: Json | None = None
    spend_budget: Json | None = None
    cost_cap_override: Json | None = None

    def requested_indexes(self) -> list[PayloadIndexConfig]:
        return list(self.payload_indexes or [])
