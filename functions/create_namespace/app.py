"""Lambda entry point of the `create_namespace` operation:
POST /v1/namespaces
"""

from stratus.api.lambda_handler import http_handler

handler = http_handler("create_namespace")
