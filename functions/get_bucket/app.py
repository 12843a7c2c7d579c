"""Lambda entry point of the `get_bucket` operation:
GET /v1/buckets/{bucket_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_bucket")
