"""SDK wire logs never carry user content into the logs: every process that handles payloads
(each API app, the extractor) calls `quiet_sdk_wire_logs` first. No FastAPI here, so the
extractor can use it without importing the web stack."""

from __future__ import annotations

import logging

# SDK loggers that at DEBUG write whole requests and answers: DynamoDB items (an object's
# metadata), embedding inputs (document text), vector upserts. Held at INFO, so LOG_LEVEL=DEBUG
# (which reaches the root logger) never puts a payload in the logs.
SDK_WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpcore", "openai", "pinecone")


def quiet_sdk_wire_logs() -> None:
    """Hold the SDKs' wire loggers at INFO or above whatever the root logger's level. Every process
    that handles payloads calls it (the API apps in `install_error_handlers`, the extractor when
    it starts)."""
    for name in SDK_WIRE_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.level < logging.INFO:  # NOTSET (inherit the root's) or DEBUG
            sdk_logger.setLevel(logging.INFO)
