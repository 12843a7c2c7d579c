"""The extractor catalogue: its data holds together, and `resolve_extractor` locks parameters and
names the offending field in every refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus import limits
from stratus.errors import BadRequestError
from stratus.extractor_catalogue import EXTRACTORS, describe_catalogue, resolve_extractor
from stratus.inference_catalogue import CATALOGUE as INFERENCE_SERVICES
from stratus.models.namespaces import FeatureExtractorConfig

HERE = "feature_extractors[1]"


def _resolve(name: str, version: str = "v1", **fields: Any) -> Any:
    config = FeatureExtractorConfig(feature_extractor_name=name, version=version, **fields)
    return resolve_extractor(config, HERE)


def _refusal(name: str, version: str = "v1", **fields: Any) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        _resolve(name, version, **fields)
    return caught.value


# --- the data ---------------------------------------------------------------------------------


def test_every_extractor_id_and_index_name_follow_name_and_version() -> None:
    for key, spec in EXTRACTORS.items():
        assert key == spec.feature_extractor_id == f"{spec.name}_{spec.version}"
        assert spec.index_name == f"{spec.name}_{spec.version}_embedding"


def test_every_possible_service_exists_and_reads_every_input_of_its_extractor() -> None:
    for spec in EXTRACTORS.values():
        modalities = {"image" if kind == "image" else "text" for kind in spec.input_types}
        param = spec.param(spec.vector_index.service_param) if spec.vector_index.service_param else None
        values = param.allowed if param and param.allowed else (None,)
        for value in values:
            params = {**spec.defaults(), **({param.name: value} if param and value else {})}
            service = INFERENCE_SERVICES[spec.vector_index.service_for(params)]
            # Queries are text: every index's service must embed text, and images where needed.
            assert modalities | {"text"} <= set(service.inputs), (spec.feature_extractor_id, value)
            assert spec.vector_index.metric in service.metrics


def test_a_field_required_by_several_extractors_has_one_definition() -> None:
    seen: dict[str, Any] = {}
    for spec in EXTRACTORS.values():
        for index in spec.required_indexes:
            assert seen.setdefault(index.field_name, index.config()) == index.config()


def test_defaults_are_valid_values_of_their_own_schema() -> None:
    for spec in EXTRACTORS.values():
        resolved = resolve_extractor(
            FeatureExtractorConfig(feature_extractor_name=spec.name, version=spec.version, params={}), "x"
        )
        assert resolved.config.params == spec.defaults()


def test_the_catalogue_description_lists_what_the_route_promises() -> None:
    described = {entry["feature_extractor_id"]: entry for entry in describe_catalogue()}
    assert json.loads(json.dumps(describe_catalogue())) == describe_catalogue()  # plain JSON
    assert set(described) == {"text_extractor_v1", "image_extractor_v1", "multimodal_extractor_v1"}
    text = described["text_extractor_v1"]
    assert text["input_types"] == ["text", "text_file"]
    assert text["file_extensions"] == [".txt", ".md", ".json"]
    assert text["vector_index"]["name"] == "text_extractor_v1_embedding"
    assert text["vector_index"]["dimension"] == 1536
    assert text["vector_index"]["service_choices"]["minilm_l6_v2"] == {
        "inference_service": "minilm_l6_v2",
        "dimension": 384,
    }
    split_by = next(param for param in text["parameters"] if param["name"] == "split_by")
    assert split_by["allowed_values"] == ["none", "sentences", "paragraphs", "characters"]
    assert split_by["default"] == "none"
    # The same parameter as the SDK reads it: a JSON-schema property.
    assert text["parameter_schema"]["properties"]["split_by"]["enum"] == split_by["allowed_values"]
    assert text["default_parameters"]["split_by"] == "none"
    image = described["image_extractor_v1"]
    assert (
        image["vector_index"]["service_choices"]["siglip_base"]["inference_service"]
        == "google_siglip_base_v1"
    )
    assert {index["field_name"] for index in text["required_payload_indexes"]} == {"text", "chunk_index"}


# --- resolution -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "index", "dimension", "service"),
    [
        (
            "image_extractor",
            {"model": "siglip_base"},
            "image_extractor_v1_embedding",
            768,
            "google_siglip_base_v1",
        ),
        ("image_extractor", {"model": "clip_vit_b32"}, "image_extractor_v1_embedding", 512, "clip_vit_b32"),
        ("image_extractor", {}, "image_extractor_v1_embedding", 768, "google_siglip_base_v1"),
        ("multimodal_extractor", {}, "multimodal_extractor_v1_embedding", 512, "clip_vit_b32"),
        ("text_extractor", {}, "text_extractor_v1_embedding", 1536, "openai_text_3_small"),
        (
            "text_extractor",
            {"inference_service": "openai_text_3_large"},
            "text_extractor_v1_embedding",
            3072,
            "openai_text_3_large",
        ),
        (
            "text_extractor",
            {"inference_service": "minilm_l6_v2"},
            "text_extractor_v1_embedding",
            384,
            "minilm_l6_v2",
        ),
    ],
)
def test_the_index_follows_the_chosen_service(
    name: str, params: dict[str, Any], index: str, dimension: int, service: str
) -> None:
    resolved = _resolve(name, params=params)
    assert (resolved.vector_config.name, resolved.vector_config.dimension) == (index, dimension)
    assert resolved.vector_config.metric == "cosine"
    assert resolved.inference_service == service


def test_resolution_locks_every_parameter_with_defaults_applied() -> None:
    resolved = _resolve("text_extractor", params={"split_by": "sentences", "chunk_size": 400})
    assert resolved.config.model_dump() == {
        "feature_extractor_name": "text_extractor",
        "version": "v1",
        "feature_extractor_id": "text_extractor_v1",
        "params": {
            "split_by": "sentences",
            "chunk_size": 400,
            "chunk_overlap": 0,
            "inference_service": "openai_text_3_small",
        },
    }
    assert [(index.field_name, index.type) for index in resolved.required_indexes] == [
        ("text", "text"),
        ("chunk_index", "integer"),
    ]


def test_locked_params_resolve_to_themselves() -> None:
    """A stored extractor (read back from the metadata store) resolves to the same lock."""
    for spec in EXTRACTORS.values():
        first = resolve_extractor(FeatureExtractorConfig(feature_extractor_name=spec.name), "x")
        again = resolve_extractor(first.config, "x")
        assert again.config == first.config and again.vector_config == first.vector_config


def test_a_matching_feature_extractor_id_is_accepted() -> None:
    assert _resolve(
        "image_extractor", feature_extractor_id="image_extractor_v1"
    ).config.feature_extractor_id == ("image_extractor_v1")


@pytest.mark.parametrize(
    ("name", "version", "fields", "field", "in_message"),
    [
        ("video_extractor", "v1", {}, "feature_extractor_name", "unknown feature extractor"),
        ("image_extractor", "v9", {}, "version", "no version 'v9'"),
        (
            "image_extractor",
            "v1",
            {"feature_extractor_id": "image_extractor_v2"},
            "feature_extractor_id",
            "expected 'image_extractor_v1'",
        ),
    ],
)
def test_an_unknown_extractor_or_a_mismatched_id_is_refused_naming_the_field(
    name: str, version: str, fields: dict[str, Any], field: str, in_message: str
) -> None:
    error = _refusal(name, version, **fields)
    assert error.details["field"] == f"{HERE}.{field}"
    assert error.message.startswith(f"{HERE}.{field}")
    assert in_message in error.message


IMAGE, MULTIMODAL, TEXT = "image_extractor", "multimodal_extractor", "text_extractor"


@pytest.mark.parametrize(
    ("name", "params", "param", "in_message"),
    [
        (IMAGE, {"model": "resnet"}, "model", "use one of siglip_base, clip_vit_b32"),
        (IMAGE, {"modle": "siglip_base"}, "modle", "accepted: model"),
        (IMAGE, {"model": 3}, "model", "expected string"),
        (MULTIMODAL, {"model": "siglip_base"}, "model", "use one of clip_vit_b32"),
        (TEXT, {"split_by": "words"}, "split_by", "none, sentences, paragraphs, characters"),
        (TEXT, {"chunk_size": 0}, "chunk_size", "within 50..100000"),
        # A chunk of a few characters is no text to search: a 20 MB text made millions of them.
        (TEXT, {"chunk_size": 1}, "chunk_size", "within 50..100000"),
        (TEXT, {"chunk_size": 49}, "chunk_size", "within 50..100000"),
        (TEXT, {"chunk_size": 100_001}, "chunk_size", "within 50..100000"),
        (TEXT, {"chunk_size": True}, "chunk_size", "expected integer"),
        (TEXT, {"chunk_size": "100"}, "chunk_size", "expected integer"),
        (TEXT, {"chunk_size": 10.0}, "chunk_size", "expected integer"),
        (TEXT, {"chunk_overlap": -1}, "chunk_overlap", "out of range"),
        (TEXT, {"chunk_size": 100, "chunk_overlap": 100}, "chunk_overlap", "smaller than chunk_size (100)"),
        (TEXT, {"inference_service": "gpt4"}, "inference_service", "google_siglip_base_v1"),
    ],
)
def test_every_bad_parameter_is_refused_naming_it_and_what_is_accepted(
    name: str, params: dict[str, Any], param: str, in_message: str
) -> None:
    error = _refusal(name, params=params)
    assert error.details["field"] == f"{HERE}.params.{param}"
    assert error.message.startswith(f"{HERE}.params.{param}:")
    assert in_message in error.message


def test_unknown_extractor_lists_the_available_ones() -> None:
    error = _refusal("video_extractor")
    assert error.details["available_extractors"] == [
        "text_extractor_v1",
        "image_extractor_v1",
        "multimodal_extractor_v1",
    ]
    assert (
        _refusal("text_extractor", "v2").details["available_extractors"]
        == error.details["available_extractors"]
    )


def test_a_bad_value_lists_the_allowed_values() -> None:
    assert _refusal("image_extractor", params={"model": "resnet"}).details["allowed"] == [
        "siglip_base",
        "clip_vit_b32",
    ]
    assert _refusal("text_extractor", params={"chunk_size": 0}).details == {
        "field": f"{HERE}.params.chunk_size",
        "minimum": limits.MIN_CHUNK_SIZE,
        "maximum": limits.MAX_CHUNK_SIZE,
    }


def test_every_entry_parses_as_the_sdks_feature_extractor_model() -> None:
    """The official SDK reads this route with `List[FeatureExtractorResponseModel]` (strict)."""
    from mixpeek.models.feature_extractor_response_model import FeatureExtractorResponseModel
    from mixpeek.models.vector_index import VectorIndex

    for entry in describe_catalogue():
        parsed = FeatureExtractorResponseModel.from_dict(entry)
        assert parsed is not None
        assert parsed.feature_extractor_id == entry["feature_extractor_id"]
        assert parsed.supported_input_types and parsed.max_inputs and parsed.icon
        (vector_index,) = parsed.required_vector_indexes or []
        assert vector_index.name == entry["vector_index"]["name"]
        dense = vector_index.index.actual_instance
        assert isinstance(dense, VectorIndex) and dense.dimensions == entry["vector_index"]["dimension"]
        assert [index.field_name for index in parsed.required_payload_indexes or []] == [
            index["field_name"] for index in entry["required_payload_indexes"]
        ]
