"""Lambda entry point of the `delete_bucket` operation:
DELETE /v1/buckets/{bucket_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_bucket")
