"""Lambda entry point of the `confirm_upload` operation:
POST /v1/buckets/{bucket_id}/uploads/{upload_id}/confirm
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("confirm_upload")
