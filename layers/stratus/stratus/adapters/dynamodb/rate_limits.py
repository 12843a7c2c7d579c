"""Rate limits (`RateLimitRepository`): a counter per (organization, category, minute) and each
organization's own limits.

A counter is ONE `UpdateItem`: `ADD n :one` on condition `attribute_not_exists(n) OR n < :limit`,
so the check and the count are a single atomic step, whatever the number of containers counting
at once (no read-modify-write; tests/integration/test_dynamodb_local_races.py races it on DynamoDB
Local). Its key (`RATE#{org}#{category}#{window}`) is a partition of its own: every function may
UpdateItem that key space and nothing else of the table it only reads (template.yaml's
`RateLimitCountersPolicy`, conditioned on `dynamodb:LeadingKeys`). It goes over the HTTP point
reader when there is one, so counting never loads boto3 on a cold start.

An organization's own limits are one item in its partition (`ORG#{org}`, `RATELIMITS`), written by
the operator CLI (`stratus limits set`) and read through the limiter's cache, not per request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from stratus.adapters.dynamodb.client import DynamoDBTable
from stratus.adapters.dynamodb.codec import deserialize
from stratus.adapters.dynamodb.faults import error_code, maps_dependency_faults
from stratus.adapters.dynamodb.schema import RATE_COUNTER_SK, RATE_LIMITS_SK, key, org_pk, rate_counter_pk
from stratus.domain.rate_limits import CATEGORIES

_CONDITION_FAILED = "ConditionalCheckFailedException"
# One retry at most: the count is on every request's path, and an ADD retried after an answer
# that was lost may count twice (a request too many, never one too few).
COUNT_ATTEMPTS = 2


class DynamoDBRateLimits(DynamoDBTable):
    @maps_dependency_faults
    def count_request(
        self, org_id: str, category: str, window_start: int, limit: int, expires_at: int
    ) -> int | None:
        request = {
            "Key": key(rate_counter_pk(org_id, category, window_start), RATE_COUNTER_SK),
            "UpdateExpression": "SET #entity = :entity, #exp = :exp ADD #n :one",
            "ConditionExpression": "attribute_not_exists(#n) OR #n < :limit",
            "ExpressionAttributeNames": {"#entity": "entity", "#exp": "expires_at", "#n": "n"},
            "ExpressionAttributeValues": {
                ":entity": {"S": "rate_counter"},
                ":exp": {"N": str(expires_at)},
                ":one": {"N": "1"},
                ":limit": {"N": str(limit)},
            },
            "ReturnValues": "UPDATED_NEW",
        }
        try:
            answer = self._update_item(request, COUNT_ATTEMPTS)
        except ClientError as error:
            if error_code(error) == _CONDITION_FAILED:
                return None
            raise
        attributes: dict[str, Any] = answer.get("Attributes") or {}
        return int(attributes.get("n", {}).get("N", limit))

    @maps_dependency_faults
    def get_rate_limits(self, org_id: str) -> dict[str, int]:
        item = self._get(org_pk(org_id), RATE_LIMITS_SK, "rate_limits")
        if item is None:
            return {}
        plain = deserialize(item)
        return {category: int(plain[category]) for category in CATEGORIES if category in plain}

    @maps_dependency_faults
    def put_rate_limits(self, org_id: str, limits: Mapping[str, int]) -> None:
        item_key = key(org_pk(org_id), RATE_LIMITS_SK)
        if not limits:
            self.client.delete_item(TableName=self.table_name, Key=item_key)
            return
        item: dict[str, Any] = {**item_key, "entity": {"S": "rate_limits"}}
        item |= {category: {"N": str(int(limit))} for category, limit in limits.items()}
        self.client.put_item(TableName=self.table_name, Item=item)
