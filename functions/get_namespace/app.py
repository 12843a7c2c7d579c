"""Lambda entry point of the `get_namespace` operation:
GET /v1/namespaces/{namespace_identifier}
"""

from stratus.api.lambda_handler import http_handler

handler = http_handler("get_namespace")
