"""Lambda entry point of the `get_object` operation:
GET /v1/buckets/{bucket_id}/objects/{object_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_object")
