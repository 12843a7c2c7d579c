"""Lambda entry point of the `delete_collection_document` operation:
DELETE /v1/collections/{collection_id}/documents/{document_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_collection_document")
