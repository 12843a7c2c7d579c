"""Lambda entry point of the `migrate_vector_index` operation:
POST /v1/namespaces/{namespace_identifier}/vectors/{index_name}/migrate
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("migrate_vector_index")
