"""Lambda entry point of the `get_collection_document` operation:
GET /v1/collections/{collection_id}/documents/{document_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_collection_document")
