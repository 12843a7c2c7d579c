"""Lambda entry point of the `list_inference_services` operation:
GET /v1/inference/services
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_inference_services")
