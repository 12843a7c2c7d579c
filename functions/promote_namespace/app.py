"""Lambda entry point of the `promote_namespace` operation:
POST /v1/namespaces/{namespace_identifier}/promote
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("promote_namespace")
