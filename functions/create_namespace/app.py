"""Lambda entry point of the `create_namespace` operation:
POST /v1/namespaces
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_namespace")
