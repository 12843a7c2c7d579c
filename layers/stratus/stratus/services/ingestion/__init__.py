"""Managed ingestion: S3 object → SQS → extractor → documents (api.md, "Managed content").

`pipeline` moves an object through its statuses, `extraction` turns its blobs into embedded
documents for one collection, `s3_events` reads the queue's messages. What is pure about objects
(their names, their content) is in `stratus.domain`; the `extractor` function's Powertools
wiring is `stratus.entrypoints.extractor`."""
