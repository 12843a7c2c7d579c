"""The `extractor` function's Lambda wiring (`lambda_handler`); the pipeline it runs is
`stratus.services.ingestion`."""
