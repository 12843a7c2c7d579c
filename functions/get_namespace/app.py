"""Lambda entry point of the `get_namespace` operation:
GET /v1/namespaces/{namespace_identifier}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_namespace")
