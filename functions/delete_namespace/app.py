"""Lambda entry point of the `delete_namespace` operation:
DELETE /v1/namespaces/{namespace_identifier}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_namespace")
