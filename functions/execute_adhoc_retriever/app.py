"""Lambda entry point of the `execute_adhoc_retriever` operation:
POST /v1/retrievers/execute
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("execute_adhoc_retriever")
