"""Lambda entry point of the `ensure_namespace_indexes` operation:
POST /v1/namespaces/{namespace_identifier}/ensure-indexes
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("ensure_namespace_indexes")
