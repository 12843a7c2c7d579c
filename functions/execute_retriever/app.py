"""Lambda entry point of the `execute_retriever` operation:
POST /v1/retrievers/{retriever_id}/execute
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("execute_retriever")
