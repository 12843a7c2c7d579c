"""`POST /v1/namespaces` rules over in-memory stores: the seed's exact body, locked extractor
parameters, merged payload indexes, and refusals that name their field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from stratus.errors import AlreadyExistsError, BadRequestError, VectorStoreUnavailableError
from stratus.models.managed import CreateNamespaceRequest
from stratus.services import namespaces
from stratus.services.managed_namespaces import create_managed_namespace
from stratus.services.spaces import resolve_namespace
from tests.fakes import InMemoryMetadataStore, InMemoryVectorStore
from tests.seed_bodies import CREATE_NAMESPACE_SEED_BODY as SEED_BODY
from tests.static_stores import StaticStores

ORG = "org_a"


@pytest.fixture
def stores() -> StaticStores:
    return StaticStores(metadata=InMemoryMetadataStore(), vectors=InMemoryVectorStore())


def _body(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(SEED_BODY), **changes}


def _create(stores: StaticStores, body: dict[str, Any]) -> Any:
    return create_managed_namespace(stores, ORG, CreateNamespaceRequest.model_validate(body))


def _refusal(stores: StaticStores, body: dict[str, Any]) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        _create(stores, body)
    return caught.value


# --- the seed -----------------------------------------------------------------------------------


def test_the_seeds_exact_body_creates_the_documented_managed_namespace(stores: StaticStores) -> None:
    namespace = _create(stores, SEED_BODY)
    assert namespace.mode == "managed"
    assert namespace.namespace_id.startswith("ns_") and namespace.storage_key.startswith("ns_")
    assert namespace.namespace_id != namespace.storage_key
    assert [(c.name, c.dimension, c.metric) for c in namespace.vector_configs] == [
        ("multimodal_extractor_v1_embedding", 512, "cosine"),
        ("image_extractor_v1_embedding", 768, "cosine"),
    ]
    assert namespace.vector_inference_map == {
        "multimodal_extractor_v1_embedding": "clip_vit_b32",
        "image_extractor_v1_embedding": "google_siglip_base_v1",
    }
    assert namespace.auto_create_indexes is True
    assert namespace.description == "This namespace contains playlists from Spotify"


def test_the_seeds_extractors_are_stored_with_their_locked_params(stores: StaticStores) -> None:
    namespace = _create(stores, SEED_BODY)
    assert [extractor.model_dump() for extractor in namespace.feature_extractors] == [
        {
            "feature_extractor_name": "multimodal_extractor",
            "version": "v1",
            "feature_extractor_id": "multimodal_extractor_v1",
            "params": {"model": "clip_vit_b32"},
        },
        {
            "feature_extractor_name": "image_extractor",
            "version": "v1",
            "feature_extractor_id": "image_extractor_v1",
            "params": {"model": "siglip_base"},
        },
    ]


def test_the_seeds_indexes_come_first_then_the_required_ones_all_built(stores: StaticStores) -> None:
    namespace = _create(stores, SEED_BODY)
    listed = [
        (index.field_name, index.type, index.is_protected, index.state) for index in namespace.payload_indexes
    ]
    assert listed == [
        ("metadata.title", "text", False, "ready"),
        ("metadata.description", "keyword", False, "ready"),
        ("modality", "keyword", True, "ready"),
        ("text", "text", True, "ready"),
        ("content_type", "keyword", True, "ready"),
    ]
    assert namespace.payload_indexes[0].field_schema == SEED_BODY["payload_indexes"][0]["field_schema"]
    # Built in both vector spaces.
    assert isinstance(stores.vectors, InMemoryVectorStore)
    assert len(stores.vectors.built_indexes) == 2 * len(listed)


def test_the_answer_is_the_documented_shape(stores: StaticStores) -> None:
    namespace = _create(stores, SEED_BODY)
    answer = namespaces.describe_namespace(stores, namespace).model_dump(mode="json")
    assert answer["vector_inference_map"]["image_extractor_v1_embedding"] == "google_siglip_base_v1"
    assert answer["namespace_name"] == "spotify_playlists_dev"
    fields = [index["field_name"] for index in answer["payload_indexes"]]
    assert fields[:2] == ["metadata.title", "metadata.description"]
    assert {"object_id", "bucket_id", "collection_id", "modality", "text", "content_type"} <= set(fields)
    assert answer["document_count"] == 0
    stored = resolve_namespace(stores.metadata, ORG, "spotify_playlists_dev")
    assert stored.namespace_id == namespace.namespace_id


def test_the_vector_spaces_exist_with_their_dimensions(stores: StaticStores) -> None:
    namespace = _create(stores, SEED_BODY)
    assert isinstance(stores.vectors, InMemoryVectorStore)
    assert stores.vectors.dimensions == {
        f"{namespace.storage_key}__multimodal_extractor_v1_embedding": 512,
        f"{namespace.storage_key}__image_extractor_v1_embedding": 768,
    }


# --- defaults and variations --------------------------------------------------------------------


def test_a_minimal_body_takes_every_default(stores: StaticStores) -> None:
    namespace = _create(
        stores,
        {"namespace_name": "docs", "feature_extractors": [{"feature_extractor_name": "text_extractor"}]},
    )
    assert namespace.auto_create_indexes is False
    assert namespace.description is None
    assert namespace.vector_configs[0].model_dump() == {
        "name": "text_extractor_v1_embedding",
        "dimension": 1536,
        "metric": "cosine",
    }
    assert namespace.feature_extractors[0].params == {
        "split_by": "none",
        "chunk_size": 1000,
        "chunk_overlap": 0,
        "inference_service": "openai_text_3_small",
    }
    assert [index.field_name for index in namespace.payload_indexes] == ["text", "chunk_index"]


def test_nulls_mean_defaults(stores: StaticStores) -> None:
    body = {
        "namespace_name": "docs",
        "feature_extractors": [{"feature_extractor_name": "image_extractor", "params": None}],
        "payload_indexes": None,
        "auto_create_indexes": None,
        "description": None,
    }
    namespace = _create(stores, body)
    assert namespace.auto_create_indexes is False
    assert namespace.vector_inference_map == {"image_extractor_v1_embedding": "google_siglip_base_v1"}


def test_a_field_required_by_two_extractors_is_indexed_once(stores: StaticStores) -> None:
    body = {
        "namespace_name": "mixed",
        "feature_extractors": [
            {"feature_extractor_name": "text_extractor", "params": {"inference_service": "minilm_l6_v2"}},
            {"feature_extractor_name": "multimodal_extractor"},
        ],
    }
    namespace = _create(stores, body)
    assert [index.field_name for index in namespace.payload_indexes] == [
        "text",
        "chunk_index",
        "modality",
        "content_type",
    ]
    assert namespace.vector_inference_map == {
        "text_extractor_v1_embedding": "minilm_l6_v2",
        "multimodal_extractor_v1_embedding": "clip_vit_b32",
    }


def test_a_requested_index_on_a_required_field_keeps_its_schema_when_the_type_matches(
    stores: StaticStores,
) -> None:
    schema = {"type": "text", "tokenizer": "whitespace", "lowercase": False}
    body = _body(payload_indexes=[{"field_name": "text", "type": "text", "field_schema": schema}])
    namespace = _create(stores, body)
    text_indexes = [index for index in namespace.payload_indexes if index.field_name == "text"]
    assert len(text_indexes) == 1
    assert text_indexes[0].field_schema == schema
    assert text_indexes[0].is_protected is True
    assert namespace.payload_indexes[0].field_name == "text"  # where the client put it


def test_server_managed_index_fields_sent_by_the_client_are_ignored(stores: StaticStores) -> None:
    body = _body()
    body["payload_indexes"][0].update({"state": "failed", "auto_created": True, "is_protected": True})
    namespace = _create(stores, body)
    title = namespace.payload_indexes[0]
    assert (title.state, title.auto_created, title.is_protected) == ("ready", False, False)


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extractor", "field", "in_message"),
    [
        (
            {"feature_extractor_name": "image_extractor", "params": {"model": "resnet"}},
            "params.model",
            "siglip_base",
        ),
        ({"feature_extractor_name": "image_extractor", "version": "v2"}, "version", "no version 'v2'"),
        (
            {"feature_extractor_name": "audio_extractor"},
            "feature_extractor_name",
            "unknown feature extractor",
        ),
        (
            {"feature_extractor_name": "image_extractor", "feature_extractor_id": "image_v1"},
            "feature_extractor_id",
            "image_extractor_v1",
        ),
        (
            {"feature_extractor_name": "text_extractor", "params": {"chunk_size": 60, "chunk_overlap": 60}},
            "params.chunk_overlap",
            "smaller",
        ),
        (
            {"feature_extractor_name": "text_extractor", "params": {"chunk_sise": 10}},
            "params.chunk_sise",
            "unknown parameter",
        ),
    ],
)
def test_a_bad_extractor_is_refused_naming_its_position_and_field(
    stores: StaticStores, extractor: dict[str, Any], field: str, in_message: str
) -> None:
    body = _body()
    body["feature_extractors"][1] = extractor
    error = _refusal(stores, body)
    assert error.details["field"] == f"feature_extractors[1].{field}"
    assert error.message.startswith(f"feature_extractors[1].{field}")
    assert in_message in error.message
    assert stores.metadata.find_namespace(ORG, "spotify_playlists_dev") is None


def test_an_unknown_extractor_lists_the_available_ones(stores: StaticStores) -> None:
    error = _refusal(stores, _body(feature_extractors=[{"feature_extractor_name": "audio_extractor"}]))
    assert error.details["available_extractors"] == [
        "text_extractor_v1",
        "image_extractor_v1",
        "multimodal_extractor_v1",
    ]


def test_the_same_extractor_twice_is_refused_even_with_other_params(stores: StaticStores) -> None:
    body = _body()
    body["feature_extractors"].append(
        {"feature_extractor_name": "image_extractor", "params": {"model": "clip_vit_b32"}}
    )
    error = _refusal(stores, body)
    assert error.details["field"] == "feature_extractors[2]"
    assert error.details["duplicate_of"] == "feature_extractors[1]"
    assert "image_extractor_v1_embedding" in error.message


def test_a_required_field_requested_with_another_type_is_refused_explaining_why(stores: StaticStores) -> None:
    body = _body()
    body["payload_indexes"].append({"field_name": "modality", "type": "text"})
    error = _refusal(stores, body)
    assert error.details == {
        "field": "payload_indexes[2].type",
        "required_type": "keyword",
        "required_by": "multimodal_extractor_v1",
    }
    assert "would break the extractor" in error.message


@pytest.mark.parametrize("field_name", ["object_id", "bucket_id", "collection_id", "document_id"])
def test_a_protected_system_field_is_refused_as_for_standalone(stores: StaticStores, field_name: str) -> None:
    body = _body()
    body["payload_indexes"].append({"field_name": field_name, "type": "keyword"})
    error = _refusal(stores, body)
    assert error.details["field"] == "payload_indexes[2].field_name"
    assert "protected system field" in error.message


def test_a_field_requested_twice_is_refused(stores: StaticStores) -> None:
    body = _body()
    body["payload_indexes"].append({"field_name": "metadata.title", "type": "keyword"})
    assert _refusal(stores, body).details["field"] == "payload_indexes[2].field_name"


def test_a_taken_name_is_409_and_creates_no_vector_space(stores: StaticStores) -> None:
    _create(stores, SEED_BODY)
    assert isinstance(stores.vectors, InMemoryVectorStore)
    spaces_before = set(stores.vectors.spaces)
    with pytest.raises(AlreadyExistsError) as caught:
        _create(stores, SEED_BODY)
    assert caught.value.details["field"] == "namespace_name"
    assert set(stores.vectors.spaces) == spaces_before


def test_the_same_name_in_another_organization_is_fine(stores: StaticStores) -> None:
    _create(stores, SEED_BODY)
    other = create_managed_namespace(stores, "org_b", CreateNamespaceRequest.model_validate(SEED_BODY))
    assert other.org_id == "org_b"


def test_a_vector_store_outage_leaves_no_namespace(stores: StaticStores) -> None:
    assert isinstance(stores.vectors, InMemoryVectorStore)
    stores.vectors.fail_next = "ensure_space"
    with pytest.raises(VectorStoreUnavailableError):
        _create(stores, SEED_BODY)
    assert stores.metadata.find_namespace(ORG, "spotify_playlists_dev") is None


# --- the request model --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"feature_extractors": []}, ("feature_extractors",)),
        ({"namespace_name": ""}, ("namespace_name",)),
        ({"namespace_name": "has space"}, ("namespace_name",)),
        ({"namespace_name": "a/b"}, ("namespace_name",)),
        ({"namespace_name": "x" * 129}, ("namespace_name",)),
        ({"mode": "standalone"}, ("mode",)),  # `managed` is what the SDK always sends
        (
            {"feature_extractors": [{"feature_extractor_name": "image_extractor", "parmas": {}}]},
            ("feature_extractors", 0, "parmas"),
        ),
        (
            {"payload_indexes": [{"field_name": "a..b", "type": "keyword"}]},
            ("payload_indexes", 0, "field_name"),
        ),
    ],
)
def test_malformed_requests_fail_validation_at_the_field(
    changes: dict[str, Any], location: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateNamespaceRequest.model_validate(_body(**changes))
    assert caught.value.errors()[0]["loc"] == location


def test_a_body_without_namespace_name_or_extractors_fails_validation() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateNamespaceRequest.model_validate({})
    assert {error["loc"] for error in caught.value.errors()} == {("namespace_name",), ("feature_extractors",)}


@pytest.mark.parametrize("name", ["spotify_playlists_dev", "legal-docs", "A", "v1.2_docs"])
def test_names_like_the_seeds_are_accepted(name: str) -> None:
    assert CreateNamespaceRequest.model_validate(_body(namespace_name=name)).namespace_name == name
