"""Lambda entry point of the `batch_update_collection_documents` operation:
POST /v1/collections/{collection_id}/documents/batch
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("batch_update_collection_documents")
