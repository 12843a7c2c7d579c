"""Lambda entry point of the `get_document` operation:
GET /v1/namespaces/{namespace_identifier}/documents/{document_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_document")
