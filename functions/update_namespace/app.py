"""Lambda entry point of the `update_namespace` operation:
PATCH /v1/namespaces/{namespace_identifier}
PUT /v1/namespaces/{namespace_identifier}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("update_namespace")
