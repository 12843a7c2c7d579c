"""Lambda entry point of the `list_buckets` operation:
GET /v1/buckets
POST /v1/buckets/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_buckets")
