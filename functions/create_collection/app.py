"""Lambda entry point of the `create_collection` operation:
POST /v1/collections
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_collection")
