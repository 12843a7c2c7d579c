"""Lambda entry point of the `create_upload` operation:
POST /v1/buckets/{bucket_id}/uploads
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_upload")
