"""Lambda entry point of the `update_collection_document` operation:
PATCH /v1/collections/{collection_id}/documents/{document_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("update_collection_document")
