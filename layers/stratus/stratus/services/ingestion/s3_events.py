"""The queue's messages: S3 event notifications inside SQS records.

S3 URL-encodes keys in notifications (a space arrives as `+`); `s3:TestEvent` (sent once when
the notification is configured) and non-ObjectCreated records carry nothing to ingest."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from stratus.services.ingestion.pipeline import S3ObjectEvent


class MalformedMessageError(ValueError):
    """A message that is not an S3 event notification: it goes to the dead-letter queue."""


def object_events(message_body: str) -> list[S3ObjectEvent]:
    try:
        notification = json.loads(message_body)
    except json.JSONDecodeError as error:
        raise MalformedMessageError(f"message body is not JSON: {error.msg}") from None
    if not isinstance(notification, dict):
        raise MalformedMessageError("message body is not an S3 event notification")
    if notification.get("Event") == "s3:TestEvent":
        return []
    records = notification.get("Records")
    if not isinstance(records, list):
        raise MalformedMessageError("message body has no S3 'Records'")
    return [event for record in records if (event := _object_event(record)) is not None]


def _object_event(record: Any) -> S3ObjectEvent | None:
    if not isinstance(record, dict) or not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return None
    try:
        s3 = record["s3"]
        key = unquote_plus(s3["object"]["key"])
        bucket = s3["bucket"]["name"]
    except (KeyError, TypeError) as error:
        raise MalformedMessageError(f"S3 record without {error}") from None
    etag = s3["object"].get("eTag")
    size = s3["object"].get("size")
    return S3ObjectEvent(
        bucket=str(bucket),
        key=key,
        etag=str(etag).strip('"') if etag else None,
        size=int(size) if isinstance(size, int) else None,
    )
