"""Lambda entry point of the `health` operation:
GET /v1/health
"""

from stratus.api.lambda_handler import http_handler

handler = http_handler("health")
