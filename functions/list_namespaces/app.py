"""Lambda entry point of the `list_namespaces` operation:
GET /v1/namespaces
POST /v1/namespaces/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_namespaces")
