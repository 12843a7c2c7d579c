"""Lambda entry point of the `get_task` operation:
GET /v1/tasks/{task_id}
"""

from stratus.entrypoints.http import http_handler

handler = http_handler("get_task")
