"""Lambda entry point of the `create_payload_index` operation:
POST /v1/namespaces/{namespace_identifier}/payload-indexes
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_payload_index")
