"""Lambda entry point of the `create_object` operation:
POST /v1/buckets/{bucket_id}/objects
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_object")
