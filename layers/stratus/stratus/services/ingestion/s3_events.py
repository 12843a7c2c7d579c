"""The queue's messages: S3 event notifications inside SQS records.

S3 URL-encodes keys in notifications (a space arrives as `+`); `s3:TestEvent` (sent once when
the notification is configured) and non-ObjectCreated records carry nothing to ingest."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from stratus.services.ingestion.batch_state import Message, S3ObjectEvent


class MalformedMessageError(ValueError):
    """A message that is not an S3 event notification: it goes to the dead-letter queue."""


def sqs_messages(event: dict[str, Any]) -> list[Message]:
    """The messages of Lambda's SQS event; one whose body is not an S3 notification carries its
    error (it fails alone and ends in the dead-letter queue)."""
    messages: list[Message] = []
    for record in event.get("Records") or []:
        # Lambda always sends the receive count; hand-made events (sam local invoke -e, tests) may not.
        receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        message_id = str(record.get("messageId", ""))
        try:
            messages.append(Message(message_id, receive_count, object_events(str(record.get("body", "")))))
        except MalformedMessageError as error:
            messages.append(Message(message_id, receive_count, error=error))
    return messages


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
