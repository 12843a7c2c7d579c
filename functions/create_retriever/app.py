"""Lambda entry point of the `create_retriever` operation:
POST /v1/retrievers
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("create_retriever")
