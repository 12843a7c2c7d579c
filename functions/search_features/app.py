"""Lambda entry point of the `search_features` operation:
POST /v1/features/search
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("search_features")
