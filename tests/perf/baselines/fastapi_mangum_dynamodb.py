"""Cold-start baseline: the bare FastAPI + Mangum app whose one route also reads one DynamoDB
item with boto3, the client created on first use as Stratus creates its own (lazily, a private
session, the same client config). The like-for-like floor of a Stratus function whose first
request authenticates: the framework plus the AWS SDK's import, client and one `GetItem`.
tests/perf/cold_start.py sends it tests/events/health.json, with the Lambda environment it gives
every app (`STRATUS_AWS_ENDPOINT_URL` is its loopback DynamoDB)."""

import os
from typing import Any

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()
_client: Any = None


def _dynamodb() -> Any:
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.session.Session().client(
            "dynamodb",
            region_name=os.environ.get("STRATUS_AWS_REGION", "us-east-1"),
            endpoint_url=os.environ.get("STRATUS_AWS_ENDPOINT_URL"),
            config=Config(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard"}, tcp_keepalive=True
            ),
        )
    return _client


@app.get("/v1/health")
def get_health() -> dict[str, str]:
    item = _dynamodb().get_item(
        TableName=os.environ.get("STRATUS_TABLE_NAME", "stratus"),
        Key={"PK": {"S": "APIKEY#baseline"}, "SK": {"S": "APIKEY"}},
        ConsistentRead=True,
    )
    return {"status": "ok", "found": str("Item" in item)}


handler = Mangum(app, lifespan="off")
