"""Managed ingestion: S3 object → SQS → extractor → documents (api.md, "Managed content").

`pipeline` runs one SQS batch through its stages: `planning` (which objects, their records and
collections, the (object, collection) jobs), `reading` (read and split each object, a presigned
upload's arrival), `statuses` (PROCESSING / COMPLETED / FAILED in batched transactions),
`job_ledger` (claim and settle each job), `batch_embedding` (one call per inference service),
`vector_writes` (one upsert per index, shadow copies, stale chunks); `batch_state` holds what they
share and `budget` the invocation's time. `extraction` turns blobs into drafts and records for one
collection, `s3_events` reads the queue's messages. What is pure about objects (their names, their
content) is in `stratus.domain`; the `extractor` function's Powertools wiring is
`stratus.entrypoints.extractor`."""
