"""Lambda entry point of the `get_retriever` operation:
GET /v1/retrievers/{retriever_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_retriever")
