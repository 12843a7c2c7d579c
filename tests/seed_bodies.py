"""Request bodies quoted from ../shared/seeds, shared by the tests that send them.
`tests/unit/test_managed_namespaces.py` checks them against the seed text when it is present."""

from __future__ import annotations

from typing import Any

# The request body of create-namespace.txt, verbatim.
CREATE_NAMESPACE_SEED_BODY: dict[str, Any] = {
    "namespace_name": "spotify_playlists_dev",
    "feature_extractors": [
        {
            "feature_extractor_id": "multimodal_extractor_v1",
            "feature_extractor_name": "multimodal_extractor",
            "version": "v1",
        },
        {
            "feature_extractor_id": "image_extractor_v1",
            "feature_extractor_name": "image_extractor",
            "params": {"model": "siglip_base"},
            "version": "v1",
        },
    ],
    "description": "This namespace contains playlists from Spotify",
    "payload_indexes": [
        {
            "field_name": "metadata.title",
            "field_schema": {
                "lowercase": True,
                "max_token_len": 15,
                "min_token_len": 2,
                "tokenizer": "word",
                "type": "text",
            },
            "is_protected": False,
            "type": "text",
        },
        {
            "field_name": "metadata.description",
            "field_schema": {"is_tenant": True, "type": "keyword"},
            "is_protected": False,
            "type": "keyword",
        },
    ],
    "auto_create_indexes": True,
}
