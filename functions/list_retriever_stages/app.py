"""Lambda entry point of the `list_retriever_stages` operation:
GET /v1/retrievers/stages
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("list_retriever_stages")
