"""Lambda entry point of the `extractor` function (SQS event source on the ingest queue, fed by
the data bucket's ObjectCreated notifications): turns new objects into documents, answering
`{"batchItemFailures": [...]}` so only failed messages are retried.
"""

from typing import Any

from stratus.lambda_init import collector_paused

with collector_paused():  # init: see stratus/lambda_init.py
    from stratus.entrypoints.extractor import handler as _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handler(event, context)
