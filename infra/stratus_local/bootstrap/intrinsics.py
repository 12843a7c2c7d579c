"""Template values resolved against the emulator: the intrinsic functions of the properties the
local stack applies (`!Ref`, `!GetAtt X.Arn`), and the order references impose on resources."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# service name ("dynamodb", "s3", "sqs") → a boto3 client for the emulator.
ClientFactory = Callable[[str], Any]


class LocalTemplateError(Exception):
    """The template uses something the local stack cannot reproduce; the message says what."""


class Intrinsics:
    """Resolves the intrinsic functions of emulated properties against the emulator: `!Ref` of a
    parameter is its default, `!Ref` of a resource its local name, `!GetAtt X.Arn` the ARN the
    emulator gave X. Anything else is refused rather than guessed."""

    def __init__(self, client_for: ClientFactory, names: dict[str, str], template: dict[str, Any]) -> None:
        self._client_for = client_for
        self._names = names
        self._template = template

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Fn::GetAtt":
                return self._get_att(str(argument[0]), str(argument[1]))
            if key.startswith("Fn::"):
                raise LocalTemplateError(f"{key} is not supported in properties the local stack applies")
        if isinstance(value, dict):
            return {key: self.resolve(child) for key, child in value.items()}
        if isinstance(value, list):
            return [self.resolve(child) for child in value]
        return value

    def local_name(self, logical_id: str) -> str:
        return self._names.get(logical_id, logical_id)

    def _ref(self, name: str) -> Any:
        parameters = self._template.get("Parameters", {})
        if name in parameters:
            if "Default" not in parameters[name]:
                raise LocalTemplateError(f"parameter {name} has no Default for the local stack to use")
            return parameters[name]["Default"]
        if name in self._template.get("Resources", {}):
            return self.local_name(name)
        raise LocalTemplateError(f"!Ref {name}: neither a parameter nor a resource")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        resource_type = self._template.get("Resources", {}).get(logical_id, {}).get("Type")
        if attribute != "Arn":
            raise LocalTemplateError(f"!GetAtt {logical_id}.{attribute}: only Arn is supported locally")
        name = self.local_name(logical_id)
        if resource_type == "AWS::SQS::Queue":
            return queue_arn(self._client_for("sqs"), name)
        if resource_type == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if resource_type == "AWS::DynamoDB::Table":
            return str(self._client_for("dynamodb").describe_table(TableName=name)["Table"]["TableArn"])
        raise LocalTemplateError(f"!GetAtt {logical_id}.Arn: {resource_type} is not emulated")


def references(value: Any) -> Iterator[str]:
    """The logical ids a property value points at with !Ref or !GetAtt."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "Ref":
                yield str(child)
            elif key == "Fn::GetAtt":
                yield str(child[0])
            else:
                yield from references(child)
    elif isinstance(value, list):
        for child in value:
            yield from references(child)


def dependency_order(resources: dict[str, dict[str, Any]]) -> list[str]:
    """The logical ids of `resources`, each after the ones among them it refers to (a DLQ before
    the queue whose RedrivePolicy names it)."""
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(logical_id: str) -> None:
        if logical_id in ordered:
            return
        if logical_id in visiting:
            raise LocalTemplateError(f"{logical_id} refers to itself through its properties")
        visiting.add(logical_id)
        for target in references(resources[logical_id].get("Properties", {})):
            if target in resources:
                visit(target)
        visiting.discard(logical_id)
        ordered.append(logical_id)

    for logical_id in resources:
        visit(logical_id)
    return ordered


def queue_arn(sqs_client: Any, queue_name: str) -> str:
    url = sqs_client.get_queue_url(QueueName=queue_name)["QueueUrl"]
    attributes = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
