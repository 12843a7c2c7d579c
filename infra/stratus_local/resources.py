"""The local AWS resources (the template's, under local names), the environment that points the
API at them, and the dev API key."""

from __future__ import annotations

import os
from typing import Any

TABLE_NAME = "stratus"
# The local names bootstrap.LOCAL_NAMES gives the template's resources (a test keeps them equal).
IDEMPOTENCY_TABLE_NAME = "stratus-idempotency"
DATA_BUCKET = "stratus-data"
INGEST_QUEUE = "stratus-ingest"
DEAD_LETTER_QUEUE = "stratus-ingest-dlq"
BACKFILL_QUEUE = "stratus-backfill"
BACKFILL_DEAD_LETTER_QUEUE = "stratus-backfill-dlq"
# A migration's wait before its swap and before dropping old vectors: 150 s deployed (writers
# hold a namespace up to the extractor's 120 s timeout), a few seconds locally, where the demo's
# writers are quick (services/backfill/messages.py SETTLE_SECONDS; the worker runs in this process).
LOCAL_BACKFILL_SETTLE_SECONDS = 5
REGION = "us-east-1"
DEV_ORG_ID = "local"
DEV_KEY_NAME = "local-dev"
DEV_KEY_PERMISSIONS = ("read", "write", "admin")
# The local stack's rate limits (requests per organization per minute, each category): counted on
# every request as when deployed, so the path is exercised, but far above what one machine can
# send, so `make dev`, the e2e and fuzz suites and `make load` are never throttled. A developer's
# own STRATUS_RATE_LIMITS wins (e.g. `STRATUS_RATE_LIMITS=search=5 make dev` to see a 429).
LOCAL_RATE_LIMITS = "metadata=1000000,data=1000000,search=1000000,upload=1000000,compute=1000000"


def api_environment(aws_endpoint_url: str, lancedb_uri: str) -> dict[str, str]:
    """The environment the API reads (stratus.settings, prefix STRATUS_) plus what boto3 needs.
    `AWS_ENDPOINT_URL` too: any boto3 client that forgets its endpoint still lands in the
    emulator, never in a real account."""
    from stratus_local.moto_server import DUMMY_CREDENTIALS

    return {
        "STRATUS_AWS_ENDPOINT_URL": aws_endpoint_url,
        "STRATUS_TABLE_NAME": TABLE_NAME,
        "STRATUS_IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE_NAME,
        "STRATUS_DATA_BUCKET": DATA_BUCKET,
        # The extractor marks an object FAILED on its last receive: the same number as the
        # local queue's RedrivePolicy, both from the template's IngestMaxReceives.
        "STRATUS_INGEST_MAX_RECEIVES": str(ingest_max_receives()),
        "STRATUS_AWS_REGION": REGION,
        "STRATUS_LANCEDB_URI": lancedb_uri,
        "STRATUS_RATE_LIMITS": os.environ.get("STRATUS_RATE_LIMITS") or LOCAL_RATE_LIMITS,
        # The local extractor runs the Lambda handler: its JSON logs are welcome on the console,
        # its EMF metrics blobs are not, and there is no X-Ray daemon (stratus.observability).
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **DUMMY_CREDENTIALS,
    }


# Variables that would make botocore skip the environment credentials above, sign with a real
# session (AWS_PROFILE wins over env keys in botocore's chain) or send one service elsewhere
# (AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL).
_REAL_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def apply_environment(values: dict[str, str]) -> None:
    for name in list(os.environ):
        if name in _REAL_AWS_VARIABLES or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(values)
    # The container (settings, stores) is built once per process; one built before this is stale.
    from stratus.container import reset_container

    reset_container()


def ingest_max_receives() -> int:
    """The default of the template's IngestMaxReceives (its RedrivePolicy's maxReceiveCount)."""
    from stratus_local.template import load_template

    return int(load_template()["Parameters"]["IngestMaxReceives"]["Default"])


def aws_client(aws_endpoint_url: str, service: str) -> Any:
    import boto3

    # Any: the boto3 stubs type `client()` per literal service name, and ours is a variable.
    make_client: Any = boto3.session.Session(region_name=REGION).client
    return make_client(service, endpoint_url=aws_endpoint_url)


def create_aws_resources(aws_endpoint_url: str) -> dict[str, str]:
    from stratus_local.bootstrap import create_resources

    def client_for(service: str) -> Any:
        return aws_client(aws_endpoint_url, service)

    return create_resources(
        client_for,
        {
            "MetadataTable": TABLE_NAME,
            "IdempotencyTable": IDEMPOTENCY_TABLE_NAME,
            "DataBucket": DATA_BUCKET,
            "IngestQueue": INGEST_QUEUE,
            "IngestDeadLetterQueue": DEAD_LETTER_QUEUE,
            "BackfillQueue": BACKFILL_QUEUE,
            "BackfillDeadLetterQueue": BACKFILL_DEAD_LETTER_QUEUE,
        },
    )


def queue_url(aws_endpoint_url: str, queue_name: str) -> str:
    return str(aws_client(aws_endpoint_url, "sqs").get_queue_url(QueueName=queue_name)["QueueUrl"])


def apply_backfill_environment(backfill_queue_url: str) -> None:
    """The backfill queue exists only now: point the API (and worker processes started later) at
    it, and give this process's backfill worker the local settle time."""
    os.environ["STRATUS_BACKFILL_QUEUE_URL"] = backfill_queue_url
    from stratus.container import reset_container
    from stratus.services.backfill import messages

    messages.SETTLE_SECONDS = LOCAL_BACKFILL_SETTLE_SECONDS

    reset_container()


def create_dev_api_key(aws_endpoint_url: str, org_id: str = DEV_ORG_ID) -> str:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.services.api_keys import create_api_key

    store = DynamoDBMetadataStore(TABLE_NAME, endpoint_url=aws_endpoint_url, region=REGION)
    plaintext, _record = create_api_key(store, org_id, DEV_KEY_NAME, list(DEV_KEY_PERMISSIONS))
    return plaintext
