"""Lambda entry point of the `create_objects_batch` operation:
POST /v1/buckets/{bucket_id}/objects/batch
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_objects_batch")
