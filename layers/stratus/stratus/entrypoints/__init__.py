"""The Lambda entry points: `http` (one Mangum app per API operation), `extractor` (the SQS
consumer of the ingestion queue) and `scheduled` (`auto_create_indexes`). Each
`functions/<name>/app.py` imports one of them."""
