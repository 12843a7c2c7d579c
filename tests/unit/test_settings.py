"""`Settings.from_environment`: the environment rules pydantic-settings applied before it was
replaced (prefix, aliases, any letter case, strings validated by the model)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stratus.settings import Settings


def test_defaults_without_any_variable() -> None:
    settings = Settings.from_environment({})
    assert settings == Settings()
    assert settings.table_name == "stratus" and settings.vector_store == "lancedb"
    assert settings.dynamodb_http_reads is True


def test_prefixed_variables_in_any_case_are_validated_by_the_model() -> None:
    settings = Settings.from_environment(
        {
            "STRATUS_TABLE_NAME": "metadata",
            "stratus_vector_store": "pinecone",
            "Stratus_Auth_Cache_Seconds": "0.5",
            "STRATUS_TORCH_THREADS": "4",
            "STRATUS_DYNAMODB_HTTP_READS": "false",
            "STRATUS_ENABLE_DOCS": "0",
            "STRATUS_AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
            "TABLE_NAME": "not this one: no prefix",
            "STRATUS_NOT_A_SETTING": "ignored",
        }
    )
    assert settings.table_name == "metadata"
    assert settings.vector_store == "pinecone"
    assert settings.auth_cache_seconds == 0.5
    assert settings.torch_threads == 4
    assert settings.dynamodb_http_reads is False and settings.enable_docs is False
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"


def test_aliases_name_the_variables_of_their_fields_in_order() -> None:
    assert Settings.from_environment({"PINECONE_API_KEY": "pc"}).pinecone_api_key == "pc"
    both = {"STRATUS_PINECONE_API_KEY": "ours", "PINECONE_API_KEY": "standard"}
    assert Settings.from_environment(both).pinecone_api_key == "ours"
    assert Settings.from_environment({"openai_api_key": "sk"}).openai_api_key == "sk"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("STRATUS_TORCH_THREADS", "0", "torch_threads"),
        ("STRATUS_TORCH_THREADS", "many", "torch_threads"),
        ("STRATUS_VECTOR_STORE", "faiss", "vector_store"),
        ("STRATUS_PINECONE_INDEX_PREFIX", "Upper_Case", "pinecone_index_prefix"),
        ("STRATUS_ENABLE_DOCS", "maybe", "enable_docs"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(name: str, value: str, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings.from_environment({name: value})
    assert [error["loc"] for error in raised.value.errors()] == [(field,)]
