"""Lambda entry point of the `upsert_documents` operation:
POST /v1/namespaces/{namespace_identifier}/documents/direct
POST /v1/namespaces/{namespace_identifier}/documents/upsert
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("upsert_documents")
