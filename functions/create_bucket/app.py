"""Lambda entry point of the `create_bucket` operation:
POST /v1/buckets
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_bucket")
