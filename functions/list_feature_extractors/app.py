"""Lambda entry point of the `list_feature_extractors` operation:
GET /v1/collections/features/extractors
GET /v1/collections/features/extractors/{feature_extractor_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_feature_extractors")
