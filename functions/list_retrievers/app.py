"""Lambda entry point of the `list_retrievers` operation:
GET /v1/retrievers
POST /v1/retrievers/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_retrievers")
