"""Lambda entry point of the `list_buckets` operation:
GET /v1/buckets
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_buckets")
