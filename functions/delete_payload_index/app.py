"""Lambda entry point of the `delete_payload_index` operation:
DELETE /v1/namespaces/{namespace_identifier}/payload-indexes/{field_name}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_payload_index")
