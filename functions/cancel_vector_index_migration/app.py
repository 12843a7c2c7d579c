"""Lambda entry point of the `cancel_vector_index_migration` operation:
POST /v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate/cancel
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("cancel_vector_index_migration")
