"""Lambda entry point of the `delete_object` operation:
DELETE /v1/buckets/{bucket_id}/objects/{object_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_object")
