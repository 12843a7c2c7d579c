"""Lambda entry point of the scheduled `auto_create_indexes` job (EventBridge `rate(6 hours)`,
not an HTTP operation): indexes the fields of opted-in namespaces filtered more than
STRATUS_AUTO_INDEX_THRESHOLD times in the last STRATUS_AUTO_INDEX_WINDOW_HOURS.
"""

from typing import Any

from stratus.lambda_init import collector_paused

with collector_paused():  # init: see stratus/lambda_init.py
    from stratus.entrypoints.scheduled import handler as _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handler(event, context)
