"""Lambda entry point of the `health` operation:
GET /v1/health
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("health")
