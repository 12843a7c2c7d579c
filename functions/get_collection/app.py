"""Lambda entry point of the `get_collection` operation:
GET /v1/collections/{collection_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_collection")
