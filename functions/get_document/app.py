"""Lambda entry point of the `get_document` operation:
GET /v1/namespaces/{namespace_identifier}/documents/{document_id}
"""

from stratus.api.lambda_handler import http_handler

handler = http_handler("get_document")
