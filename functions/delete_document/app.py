"""Lambda entry point of the `delete_document` operation:
DELETE /v1/namespaces/{namespace_identifier}/documents/{document_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_document")
