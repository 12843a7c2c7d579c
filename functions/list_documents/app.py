"""Lambda entry point of the `list_documents` operation:
POST /v1/namespaces/{namespace_identifier}/documents/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_documents")
