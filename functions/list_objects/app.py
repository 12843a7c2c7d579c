"""Lambda entry point of the `list_objects` operation:
GET /v1/buckets/{bucket_id}/objects
POST /v1/buckets/{bucket_id}/objects/list
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_objects")
