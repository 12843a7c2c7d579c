"""Lambda entry point of the `list_collections` operation:
GET /v1/collections
POST /v1/collections/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_collections")
