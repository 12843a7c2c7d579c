"""Lambda entry point of the `get_filter_usage` operation:
GET /v1/namespaces/{namespace_identifier}/analytics/filter-usage
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_filter_usage")
