"""Locally, what Lambda's SQS event source mapping does for the `backfill` function
(template.yaml `BackfillFunction`, fed by `BackfillQueue`): a daemon thread long-polls the
backfill queue, hands each batch to `functions/backfill/app.py`'s `handler(event, context)` as the
exact event Lambda builds, deletes the messages not listed in `batchItemFailures`, and lets the
failed ones come back. The queue's RedrivePolicy (moto implements it) moves a message to the
dead-letter queue after maxReceiveCount receives, as in AWS; messages sent with DelaySeconds (a
migration's swap, a drop) wait as they would.

The extractor's poller (`ingest_worker.IngestWorker`) with one thread, on its own queue, with the
backfill function's batch size and timeout from the template.

One deliberate difference from Lambda: a failed message comes back after a short backoff (1 s per
receive so far, at most 5 s) instead of the function's 15 s, 30 s...: locally a retry should take
a moment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratus_local.ingest_worker import FunctionConfig, Handler, IngestWorker, load_handler
from stratus_local.template import REPO_ROOT

BACKFILL_APP = REPO_ROOT / "functions" / "backfill" / "app.py"
BACKFILL_LOGICAL_ID = "BackfillFunction"
LOCAL_FUNCTION_NAME = "stratus-backfill"
MAX_RETRY_SECONDS = 5


def backfill_function_config() -> FunctionConfig:
    return FunctionConfig.from_template(logical_id=BACKFILL_LOGICAL_ID, function_name=LOCAL_FUNCTION_NAME)


def load_backfill_handler() -> Handler:
    return load_handler(BACKFILL_APP)


class BackfillWorker(IngestWorker):
    """`BackfillWorker(sqs, queue_url, handler, config).start()` ... `.stop()`: one poller."""

    THREAD_NAME = "stratus-local-backfill"
    LABEL = "backfill"

    def _retry_after(self, message: Mapping[str, Any]) -> int:
        receives = int((message.get("Attributes") or {}).get("ApproximateReceiveCount") or 1)
        return min(MAX_RETRY_SECONDS, receives)
