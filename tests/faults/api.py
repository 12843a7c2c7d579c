"""The API under test, in-process, and what the fault tests read behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faults.dynamo_faults import DynamoFaults
from tests.wiring import WiredApi, container_from_environment

ORG = "org_a"
TABLE = "stratus"
# The clients under test, tuned so that faults resolve in about a second.
PINECONE_MAX_ATTEMPTS = 2
PINECONE_TIMEOUT_SECONDS = 1.0
OPENAI_MAX_ATTEMPTS = 2
OPENAI_TIMEOUT_SECONDS = 0.5


@dataclass
class Api:
    client: TestClient
    wired: WiredApi
    org_id: str = ORG
    attached: list[DynamoFaults] = field(default_factory=list)

    @property
    def stores(self) -> Any:
        """The container the app's routes are served from."""
        return self.wired.container

    def faults(self, sender: Any | None = None) -> DynamoFaults:
        """Faults on the wire of the app's own DynamoDB client (built on first use); detached
        when the test ends."""
        faults = DynamoFaults(self.stores.metadata.client, sender)
        self.attached.append(faults)
        return faults

    def detach_faults(self) -> None:
        while self.attached:
            self.attached.pop().close()

    def namespace(self, namespace_id: str) -> Any:
        found = self.stores.metadata.get_namespace(self.org_id, namespace_id)
        assert found is not None, namespace_id
        return found

    def promotion_records(self, namespace_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.stores.metadata.client.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": f"ORG#{self.org_id}"},
                ":prefix": {"S": f"PROMOTION#{namespace_id}#"},
            },
            ConsistentRead=True,
        )["Items"]
        return items


def serve(monkeypatch: pytest.MonkeyPatch, metadata: Any) -> Iterator[Api]:
    """The whole API in-process with an admin key of ORG, over a container of its own whose stores
    are built from the environment (set by the caller) on first use. A generator rather than the
    `wired_api` fixture: module-scoped APIs use it too."""
    from stratus.services.api_keys import create_api_key

    monkeypatch.setenv("STRATUS_TABLE_NAME", TABLE)
    monkeypatch.setenv("STRATUS_AUTH_CACHE_SECONDS", "0")
    monkeypatch.setenv("STRATUS_DATA_BUCKET", "test-data")
    key = create_api_key(metadata, ORG, "admin", ["read", "write", "admin"])[0]
    wired = WiredApi(container_from_environment())
    with wired.client() as client:
        client.headers["Authorization"] = f"Bearer {key}"
        api = Api(client, wired)
        try:
            yield api
        finally:
            api.detach_faults()
            wired.unwire()
