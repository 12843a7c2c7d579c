"""Lambda entry point of the `list_inference_services` operation:
GET /v1/inference/services
"""

from stratus.api.lambda_handler import http_handler

handler = http_handler("list_inference_services")
