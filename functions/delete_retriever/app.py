"""Lambda entry point of the `delete_retriever` operation:
DELETE /v1/retrievers/{retriever_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("delete_retriever")
