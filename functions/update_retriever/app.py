"""Lambda entry point of the `update_retriever` operation:
PATCH /v1/retrievers/{retriever_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("update_retriever")
