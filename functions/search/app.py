"""Lambda entry point of the `search` operation:
POST /v1/search
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("search")
