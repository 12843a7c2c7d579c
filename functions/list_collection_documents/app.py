"""Lambda entry point of the `list_collection_documents` operation:
POST /v1/collections/{collection_id}/documents/list
GET /v1/collections/{collection_id}/documents
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_collection_documents")
