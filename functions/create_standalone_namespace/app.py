"""Lambda entry point of the `create_standalone_namespace` operation:
POST /v1/namespaces/standalone
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_standalone_namespace")
