"""Managed ingestion: S3 object → SQS → extractor → documents (api.md, "Managed content").

`object_keys` names things, `manifest` is the objects API's storage format, `content` turns a
stored object into blobs, `extraction` turns blobs into embedded documents for one collection,
`pipeline` moves an object through its statuses, `s3_events` reads the queue's messages and
`lambda_handler` is the Powertools wiring of the `extractor` function."""
