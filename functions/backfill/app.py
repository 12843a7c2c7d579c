"""Lambda entry point of the `backfill` function (SQS event source on the backfill queue): fills
the indexes of a promotion's backfill and runs model migrations (services/backfill), answering
`{"batchItemFailures": [...]}` so only failed messages are retried.
"""

from typing import Any

from stratus.lambda_init import collector_paused

with collector_paused():  # init: see stratus/lambda_init.py
    from stratus.entrypoints.backfill import handler as _handler


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _handler(event, context)
