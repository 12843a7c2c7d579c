"""IAM least privilege in template.yaml.

Every IAM statement the template writes (function policies, roles, managed policies, resource
policies of queues, buckets and topics) is checked:

* no wildcard in an Action (`s3:*`, `dynamodb:Get*`), no NotAction, no NotResource;
* no Resource `*` (or an ARN whose resource part is `*`) unless every action of the statement is
  one AWS offers no resource-level permission for (`NO_RESOURCE_LEVEL`, each with its reason and
  any condition it must carry);
* a resource policy's Allow for Principal `*` must carry a Condition;
* a function's SAM policy templates name the resource they are for (`TableName`, `BucketName`,
  `SecretArn`, ...), never `*`; an unknown template or a managed policy fails until it is vetted
  here.

A violation the template's owner must fix is listed in `KNOWN_VIOLATIONS` (a strict xfail), so it
is tracked and the test turns red again once it is fixed and not yet unlisted.

And the other way: a function whose code can embed text (read from the source, `code_reach`) may
read the OpenAI API key secret, else a deployed call to an OpenAI-mapped index answers 503.

And what the functions may write in the metadata table, evaluated (`allows`) against the keys the
code builds (stratus.adapters.dynamodb.schema): every API function may count its requests
(UpdateItem on the `RATE#` counter partitions), a function that only reads may write nothing else
(the search function: the `USAGE#` filter-usage partitions too), never a namespace or an API key.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import stratus
from stratus.adapters.dynamodb import schema
from stratus.api.operations import PUBLIC_OPERATIONS, ROUTER_PATHS
from stratus_local.template import load_template
from tests.security.code_reach import CallGraph, counts_filter_usage, entry_points, reads_embedders

REPO = Path(__file__).resolve().parents[2]

# Actions without resource-level permissions (the IAM Service Authorization Reference lists no
# resource type for them), so Resource "*" is the narrowest there is. Value: the condition keys
# the statement must constrain instead (empty: none exists), and why the action is needed.
NO_RESOURCE_LEVEL: dict[str, tuple[tuple[str, ...], str]] = {
    "xray:PutTraceSegments": ((), "Tracing: Active - the X-Ray SDK sends segments"),
    "xray:PutTelemetryRecords": ((), "Tracing: Active - the X-Ray daemon's telemetry"),
    "xray:GetSamplingRules": ((), "Tracing: Active - X-Ray sampling"),
    "xray:GetSamplingTargets": ((), "Tracing: Active - X-Ray sampling"),
    "cloudwatch:PutMetricData": (
        ("cloudwatch:namespace",),
        "Powertools Metrics; must be held to the POWERTOOLS_METRICS_NAMESPACE",
    ),
}

# SAM policy templates → the parameters that scope them to one resource.
SAM_TEMPLATES: dict[str, tuple[str, ...]] = {
    "DynamoDBCrudPolicy": ("TableName",),
    "DynamoDBReadPolicy": ("TableName",),
    "DynamoDBWritePolicy": ("TableName",),
    "DynamoDBStreamReadPolicy": ("TableName", "StreamName"),
    "S3CrudPolicy": ("BucketName",),
    "S3ReadPolicy": ("BucketName",),
    "S3WritePolicy": ("BucketName",),
    "SQSPollerPolicy": ("QueueName",),
    "SQSSendMessagePolicy": ("QueueName",),
    "SNSPublishMessagePolicy": ("TopicName",),
    "AWSSecretsManagerGetSecretValuePolicy": ("SecretArn",),
    "SSMParameterReadPolicy": ("ParameterName",),
    "LambdaInvokePolicy": ("FunctionName",),
    "KMSDecryptPolicy": ("KeyId",),
    "KMSEncryptPolicy": ("KeyId",),
    "EventBridgePutEventsPolicy": ("EventBusName",),
    "StepFunctionsExecutionPolicy": ("StateMachineName",),
}
# Templates that grant on "*" whatever their parameters say.
UNSCOPED_SAM_TEMPLATES: dict[str, str] = {
    "CloudWatchPutMetricPolicy": "PutMetricData on every namespace; write a statement with a "
    "cloudwatch:namespace condition",
    "S3FullAccessPolicy": "s3:* on the bucket; list the actions needed",
    "AmazonDynamoDBFullAccess": "every table",
}
# AWS managed policies a resource may attach, and why.
MANAGED_POLICIES: dict[str, str] = {
    "AWSXrayWriteOnlyAccess": "X-Ray write actions only, none of which has resource-level permissions",
}

# Resource logical id → why the template still violates (strict xfail: fails once fixed).
KNOWN_VIOLATIONS: dict[str, str] = {}

# Resource types whose Properties carry IAM policy documents, and where.
_DOCUMENT_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Policy": (("PolicyDocument",),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument",),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument",),),
    "AWS::S3::BucketPolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument",),),
    "AWS::Lambda::LayerVersionPermission": (),
}
_SAM_POLICY_OWNERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


# ---------------------------------------------------------------------------------------------
# Reading the template


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _branches(value: Any) -> Iterator[Any]:
    """A value, or both branches of an `Fn::If` (recursively); `AWS::NoValue` yields nothing."""
    if isinstance(value, dict) and "Fn::If" in value:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value


def _text(value: Any) -> str | None:
    """A Resource as text with every substitution replaced by `X`; None for a Ref/GetAtt."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        template = value["Fn::Sub"]
        template = template[0] if isinstance(template, list) else template
        return re.sub(r"\$\{[^}]*\}", "X", str(template))
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(part if isinstance(part, str) else "X" for part in parts)
    return None


_WILDCARD_ARN = re.compile(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*|arn:[^:]*:s3:::\*(/\*)?")


def _is_wildcard_resource(value: Any) -> bool:
    text = _text(value)
    return text is not None and (text == "*" or _WILDCARD_ARN.fullmatch(text) is not None)


def statement_problems(statement: dict[str, Any], resource_policy: bool = False) -> list[str]:
    if "Fn::If" in statement:
        return [
            p
            for branch in _branches(statement)
            if isinstance(branch, dict)
            for p in statement_problems(branch, resource_policy)
        ]
    sid = statement.get("Sid", "(no Sid)")
    problems = [
        f"{sid}: {key} is never least privilege" for key in ("NotAction", "NotResource") if key in statement
    ]
    if statement.get("Effect") == "Deny":
        return problems  # a wildcard only narrows what a Deny leaves
    actions = [str(action) for action in _listify(statement.get("Action", []))]
    problems += [f"{sid}: wildcard action {action!r}" for action in actions if "*" in action]
    resources = [r for value in _listify(statement.get("Resource", [])) for r in _branches(value)]
    if any(_is_wildcard_resource(resource) for resource in resources):
        unscoped = [action for action in actions if action not in NO_RESOURCE_LEVEL]
        if unscoped:
            problems.append(f"{sid}: Resource '*' for {unscoped}, which support resource-level permissions")
        conditions = {key for block in (statement.get("Condition") or {}).values() for key in block}
        for action in actions:
            needed = NO_RESOURCE_LEVEL.get(action, ((), ""))[0]
            missing = [key for key in needed if key not in conditions]
            if missing:
                problems.append(f"{sid}: {action} on '*' needs a Condition on {missing}")
    principal = statement.get("Principal")
    if resource_policy and principal in ("*", {"AWS": "*"}) and not statement.get("Condition"):
        problems.append(f"{sid}: Allow for Principal '*' without a Condition")
    return problems


def _document_problems(document: Any, resource_policy: bool = False) -> list[str]:
    problems: list[str] = []
    for doc in _branches(document):
        for statement in _listify(doc.get("Statement", [])) if isinstance(doc, dict) else []:
            problems += statement_problems(statement, resource_policy)
    return problems


def sam_policy_problems(policies: Any) -> list[str]:
    """Problems of a Serverless resource's `Policies` (names, documents, SAM templates)."""
    problems: list[str] = []
    for entry in (branch for policy in _listify(policies or []) for branch in _branches(policy)):
        if isinstance(entry, str):
            if entry not in MANAGED_POLICIES:
                problems.append(f"managed policy {entry!r}: use a statement, or vet it in MANAGED_POLICIES")
            continue
        if not isinstance(entry, dict):
            problems.append(f"unexpected policy entry {entry!r}")
            continue
        if "Statement" in entry:
            problems += _document_problems(entry)
            continue
        if set(entry) == {"Ref"}:
            problems += _managed_policy_ref_problems(entry)
            continue
        for name, parameters in entry.items():
            problems += _sam_template_problems(name, parameters)
    return problems


def _sam_template_problems(name: str, parameters: Any) -> list[str]:
    if name in UNSCOPED_SAM_TEMPLATES:
        return [f"{name}: {UNSCOPED_SAM_TEMPLATES[name]}"]
    if name not in SAM_TEMPLATES:
        return [f"SAM template {name!r}: add it to SAM_TEMPLATES with the parameter that scopes it"]
    problems = []
    for parameter in SAM_TEMPLATES[name]:
        value = (parameters or {}).get(parameter)
        text = _text(value)
        if value is None or (text is not None and (not text.strip() or "*" in text)):
            problems.append(f"{name}: {parameter} must name one resource, got {value!r}")
    return problems


def _managed_policy_ref_problems(entry: dict[str, Any]) -> list[str]:
    """A `!Ref` in Policies must name a managed policy of this template (its document is checked
    as its own resource)."""
    logical_id = entry["Ref"]
    resource = TEMPLATE.get("Resources", {}).get(logical_id) if isinstance(logical_id, str) else None
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::IAM::ManagedPolicy":
        return [f"{entry!r}: not a managed policy of this template"]
    return []


def resource_problems(resource: dict[str, Any]) -> list[str]:
    kind = resource.get("Type", "")
    properties = resource.get("Properties", {}) or {}
    problems: list[str] = []
    if kind in _SAM_POLICY_OWNERS:
        problems += sam_policy_problems(properties.get("Policies"))
    if kind == "AWS::IAM::Role":
        for policy in _listify(properties.get("Policies", [])):
            problems += _document_problems(policy.get("PolicyDocument"))
        for arn in _listify(properties.get("ManagedPolicyArns", [])):
            name = (_text(arn) or "").rsplit("/", 1)[-1]
            if name not in MANAGED_POLICIES:
                problems.append(f"managed policy {arn!r}: vet it in MANAGED_POLICIES")
    for path in _DOCUMENT_PATHS.get(kind, ()):
        document: Any = properties
        for key in path:
            document = (document or {}).get(key)
        problems += _document_problems(
            document, resource_policy=kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        )
    return problems


def _policy_bearing(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    kinds = {*_SAM_POLICY_OWNERS, "AWS::IAM::Role", *_DOCUMENT_PATHS}
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") in kinds}


TEMPLATE = load_template()
RESOURCES = _policy_bearing(TEMPLATE)


def _param(name: str) -> Any:
    reason = KNOWN_VIOLATIONS.get(name)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(name, id=name, marks=marks)


# ---------------------------------------------------------------------------------------------
# The template


@pytest.mark.parametrize("name", [_param(name) for name in sorted(RESOURCES)])
def test_resource_is_least_privilege(name: str) -> None:
    problems = resource_problems(RESOURCES[name])
    assert not problems, f"{name} in template.yaml:\n  " + "\n  ".join(problems)


def test_the_template_has_policies_to_check() -> None:
    functions = [n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"]
    assert len(functions) > 10, "template.yaml moved its functions; RESOURCES found too few"
    assert set(KNOWN_VIOLATIONS) <= set(RESOURCES), "KNOWN_VIOLATIONS lists resources that are gone"


def test_globals_grant_nothing() -> None:
    function_globals = TEMPLATE.get("Globals", {}).get("Function", {})
    assert "Policies" not in function_globals and "Role" not in function_globals


# ---------------------------------------------------------------------------------------------
# The checker itself catches what it must (and passes what it must)


def _function(*policies: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Policies": list(policies)}}


def _statement(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Statement": [{"Sid": "S", "Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


# ---------------------------------------------------------------------------------------------
# What the functions may write in the metadata table, evaluated against the code's keys

TABLE = "MetadataTable"
# The actions of the SAM DynamoDB templates (samtranslator's policy_templates.json).
SAM_DYNAMODB_ACTIONS: dict[str, tuple[str, ...]] = {
    "DynamoDBReadPolicy": (
        "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
    ),
    "DynamoDBWritePolicy": (
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem",
    ),
    "DynamoDBCrudPolicy": (
        "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan",
        "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem",
    ),
}  # fmt: skip
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
LEADING_KEYS = "dynamodb:LeadingKeys"
# Partition keys of every kind of item the table holds, as the code builds them.
RATE_KEY = schema.rate_counter_pk("org_a", "search", 1_800_000_000)
USAGE_KEY = schema.usage_pk("org_a", "ns_1")
FOREIGN_KEYS = {
    "organization": schema.org_pk("org_a"),  # namespaces, name guards, buckets, the key index
    "API key": schema.key_pk("ab" * 32),
    "task": schema.task_pk("task_1"),
    "S3 route": schema.route_pk("sk/bkt_1/"),
    "objects": schema.objects_pk("org_a", "ns_1"),
}


def _statements(policies: Any) -> Iterator[dict[str, Any]]:
    """Every statement a function's `Policies` grant (both branches of an Fn::If): inline ones,
    SAM DynamoDB templates as the statements they expand to, and the template's managed policies."""
    for entry in (branch for policy in _listify(policies or []) for branch in _branches(policy)):
        if not isinstance(entry, dict):
            continue
        if set(entry) == {"Ref"}:
            document = TEMPLATE["Resources"][entry["Ref"]]["Properties"]["PolicyDocument"]
            yield from _listify(document.get("Statement", []))
        elif "Statement" in entry:
            yield from _listify(entry["Statement"])
        for name, actions in SAM_DYNAMODB_ACTIONS.items():
            if name in entry:
                table = (entry[name] or {}).get("TableName")
                yield {"Effect": "Allow", "Action": list(actions), "Resource": {"SamTable": table}}


def _on_table(resource: Any, table: str) -> bool:
    return resource in ({"Fn::GetAtt": [table, "Arn"]}, {"SamTable": {"Ref": table}}) or (
        _text(resource) == "X" and resource == {"Fn::Sub": f"${{{table}.Arn}}"}
    )


def _condition_holds(condition: dict[str, Any], leading_key: str) -> bool:
    """A statement's Condition for a request on one partition key. Only what the template uses
    is understood; anything else fails the test rather than being guessed."""
    for operator, block in condition.items():
        for context_key, wanted in block.items():
            if context_key != LEADING_KEYS:
                raise AssertionError(f"the evaluator does not know condition key {context_key!r}")
            values = [str(value) for value in _listify(wanted)]
            if operator == "Null":
                holds = values == ["false"]  # the request carries a partition key
            elif operator in ("ForAllValues:StringLike", "StringLike"):
                holds = any(fnmatch.fnmatchcase(leading_key, value) for value in values)
            elif operator in ("ForAllValues:StringEquals", "StringEquals"):
                holds = leading_key in values
            else:
                raise AssertionError(f"the evaluator does not know condition operator {operator!r}")
            if not holds:
                return False
    return True


def allows(resource: dict[str, Any], action: str, leading_key: str, table: str = TABLE) -> bool:
    """Whether the function may do `action` on an item of `table` whose partition key is
    `leading_key` (its policies hold no Deny)."""
    for statement in _statements((resource.get("Properties", {}) or {}).get("Policies")):
        assert statement.get("Effect") == "Allow", "the evaluator does not handle Deny"
        if action not in _listify(statement.get("Action", [])):
            continue
        resources = [r for value in _listify(statement.get("Resource", [])) for r in _branches(value)]
        if any(_on_table(r, table) for r in resources) and _condition_holds(
            statement.get("Condition") or {}, leading_key
        ):
            return True
    return False


FUNCTIONS = {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
API_FUNCTIONS = sorted(
    name
    for name, resource in FUNCTIONS.items()
    if any(e.get("Type") == "HttpApi" for e in (resource["Properties"].get("Events") or {}).values())
    and resource["Properties"]["CodeUri"].strip("/").rsplit("/", 1)[-1] not in PUBLIC_OPERATIONS
)
READ_ONLY_FUNCTIONS = sorted(
    name
    for name, resource in FUNCTIONS.items()
    if not any(allows(resource, "dynamodb:PutItem", key) for key in FOREIGN_KEYS.values())
    and any(allows(resource, "dynamodb:GetItem", key) for key in FOREIGN_KEYS.values())
)


def test_the_functions_are_found() -> None:
    assert len(API_FUNCTIONS) > 25 and "SearchFunction" in API_FUNCTIONS
    assert {"SearchFunction", "GetNamespaceFunction", "ListDocumentsFunction"} <= set(READ_ONLY_FUNCTIONS)
    assert "CreateNamespaceFunction" not in READ_ONLY_FUNCTIONS


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_every_api_function_may_count_its_requests(name: str) -> None:
    assert allows(FUNCTIONS[name], "dynamodb:UpdateItem", RATE_KEY), (
        f"{name} runs the rate limiter (stratus.api.auth) but may not UpdateItem {RATE_KEY!r}: "
        "add `- !Ref RateLimitCountersPolicy` to its Policies"
    )


@pytest.mark.parametrize("name", READ_ONLY_FUNCTIONS)
def test_a_function_that_reads_writes_nothing_but_counters(name: str) -> None:
    resource = FUNCTIONS[name]
    granted = [
        f"{action} on the {kind} partition ({key})"
        for action in WRITE_ACTIONS
        for kind, key in FOREIGN_KEYS.items()
        if allows(resource, action, key)
    ]
    assert not granted, f"{name} only reads, yet may " + "; ".join(granted)
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert not allows(resource, action, RATE_KEY) and not allows(resource, action, USAGE_KEY)
    may_count_usage = allows(resource, "dynamodb:UpdateItem", USAGE_KEY)
    counts = name in FILTER_USAGE
    assert may_count_usage == counts, (
        f"{name}: UpdateItem on USAGE#: {may_count_usage}; its code counts: {counts}"
    )


def test_the_search_function_counts_filter_usage_and_touches_no_key() -> None:
    search = FUNCTIONS["SearchFunction"]
    assert allows(search, "dynamodb:UpdateItem", USAGE_KEY)
    assert allows(search, "dynamodb:UpdateItem", RATE_KEY)
    assert not allows(search, "dynamodb:UpdateItem", FOREIGN_KEYS["API key"])
    assert not allows(search, "dynamodb:UpdateItem", FOREIGN_KEYS["organization"])


def _leading_key_conditions() -> Iterator[tuple[str, str, list[str]]]:
    for name, resource in RESOURCES.items():
        policies = (resource.get("Properties", {}) or {}).get("Policies")
        statements = list(_statements(policies)) if resource["Type"] in _SAM_POLICY_OWNERS else []
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            statements = _listify(resource["Properties"]["PolicyDocument"]["Statement"])
        for statement in statements:
            for operator, block in (statement.get("Condition") or {}).items():
                if LEADING_KEYS in block:
                    yield name, operator, [str(v) for v in _listify(block[LEADING_KEYS])]


def test_the_key_spaces_granted_are_the_code_s_counter_prefixes() -> None:
    """The template's LeadingKeys patterns are the schema's counter prefixes, each paired with
    `Null: false` (ForAllValues holds for a request without the key), so a renamed prefix in the
    code cannot silently leave the grant on keys nothing writes (or widen it)."""
    allowed_patterns = {f"{schema.RATE_PREFIX}*", f"{schema.USAGE_PREFIX}*"}
    found = list(_leading_key_conditions())
    assert found, "no statement conditioned on dynamodb:LeadingKeys"
    for name, operator, values in found:
        if operator == "Null":
            assert values == ["false"], (name, values)
        else:
            assert operator.startswith("ForAllValues:") and set(values) <= allowed_patterns, (
                name,
                operator,
                values,
            )
    for name in {name for name, operator, _ in found}:
        assert {operator for n, operator, _ in found if n == name} >= {"Null"}, f"{name}: no Null condition"
    # The prefixes end with the separator: RATE#* cannot match a RATEX... partition of another kind.
    assert schema.RATE_PREFIX.endswith("#") and schema.USAGE_PREFIX.endswith("#")


def test_the_evaluator_sees_an_unconditioned_grant_and_a_wrong_pattern() -> None:
    update = {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": {"Fn::GetAtt": [TABLE, "Arn"]}}
    assert allows(_function({"Statement": [update]}), "dynamodb:UpdateItem", FOREIGN_KEYS["API key"])
    scoped = {**update, "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: ["RATE#*"]}}}
    assert not allows(_function({"Statement": [scoped]}), "dynamodb:UpdateItem", FOREIGN_KEYS["API key"])
    assert allows(_function({"Statement": [scoped]}), "dynamodb:UpdateItem", RATE_KEY)
    wide = {**update, "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: ["*"]}}}
    assert allows(_function({"Statement": [wide]}), "dynamodb:UpdateItem", FOREIGN_KEYS["API key"])
    assert allows(
        _function({"DynamoDBCrudPolicy": {"TableName": {"Ref": TABLE}}}), "dynamodb:PutItem", USAGE_KEY
    )
    assert not allows(
        _function({"DynamoDBReadPolicy": {"TableName": {"Ref": TABLE}}}), "dynamodb:UpdateItem", RATE_KEY
    )
    unknown = {**update, "Condition": {"StringLike": {"aws:SourceIp": ["1.2.3.4"]}}}
    with pytest.raises(AssertionError, match="does not know"):
        allows(_function({"Statement": [unknown]}), "dynamodb:UpdateItem", RATE_KEY)


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (_function(_statement("s3:*", {"Fn::Sub": "${DataBucket.Arn}/*"})), "wildcard action 's3:*'"),
        (_function(_statement(["dynamodb:Get*"], {"Fn::GetAtt": ["T", "Arn"]})), "wildcard action"),
        (_function(_statement("s3:GetObject", "*")), "support resource-level permissions"),
        (_function(_statement("s3:GetObject", {"Fn::Sub": "arn:${AWS::Partition}:s3:::*"})), "Resource '*'"),
        (_function(_statement("sqs:SendMessage", "arn:aws:sqs:*:*:*")), "Resource '*'"),
        (_function(_statement("cloudwatch:PutMetricData", "*")), "needs a Condition"),
        (_function({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "x"}]}), "NotAction"),
        (_function({"DynamoDBCrudPolicy": {"TableName": "*"}}), "TableName must name one resource"),
        (_function({"S3ReadPolicy": {}}), "BucketName must name one resource"),
        (_function({"CloudWatchPutMetricPolicy": {}}), "cloudwatch:namespace"),
        (_function({"SomeNewPolicy": {"Name": "x"}}), "add it to SAM_TEMPLATES"),
        (_function("AmazonS3FullAccess"), "managed policy"),
        (
            _function({"Fn::If": ["C", _statement("s3:*", "x"), {"Ref": "AWS::NoValue"}]}),
            "wildcard action",
        ),
        (
            {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "sqs:SendMessage",
                                "Resource": "q",
                            }
                        ]
                    }
                },
            },
            "Principal '*' without a Condition",
        ),
        (
            {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policies": [{"PolicyDocument": _statement("logs:*", "*")}]},
            },
            "wildcard action",
        ),
    ],
)
def test_the_checker_catches(resource: dict[str, Any], expected: str) -> None:
    problems = resource_problems(resource)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "resource",
    [
        _function(_statement("s3:GetObject", {"Fn::Sub": "${DataBucket.Arn}/*"})),
        _function(_statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*")),
        _function(
            _statement(
                "cloudwatch:PutMetricData",
                "*",
                Condition={"StringEquals": {"cloudwatch:namespace": "Stratus"}},
            )
        ),
        _function({"DynamoDBReadPolicy": {"TableName": {"Ref": "MetadataTable"}}}),
        _function(
            {
                "Fn::If": [
                    "C",
                    {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "S"}}},
                    {"Ref": "AWS::NoValue"},
                ]
            }
        ),
        _function({"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}),
    ],
)
def test_the_checker_passes(resource: dict[str, Any]) -> None:
    assert resource_problems(resource) == []


# ---------------------------------------------------------------------------------------------
# A function that embeds can read the inference API key


def functions_reaching(
    template: dict[str, Any], predicate: Callable[[ast.AST], bool]
) -> dict[str, list[str]]:
    """Function logical id -> the code matching `predicate` its entry points reach (absent: none)."""
    graph = CallGraph(Path(stratus.__file__).parent)
    routers = {operation: path.split(":", 1)[0] for operation, path in ROUTER_PATHS.items()}
    embedding = graph.nodes_where(predicate)
    found: dict[str, list[str]] = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        app = REPO / properties["CodeUri"] / (properties["Handler"].split(".", 1)[0] + ".py")
        reached = graph.reachable(entry_points(app, graph, routers)) & embedding
        if reached:
            found[name] = sorted(f"{module}.{function}" for module, function in reached)
    return found


def grants_secret(resource: dict[str, Any], parameter: str) -> bool:
    """Whether the function's policies let it read the secret whose ARN is `parameter`."""
    wanted = {"Ref": parameter}
    policies = (resource.get("Properties", {}) or {}).get("Policies")
    for entry in (branch for policy in _listify(policies or []) for branch in _branches(policy)):
        if not isinstance(entry, dict):
            continue
        if (entry.get("AWSSecretsManagerGetSecretValuePolicy") or {}).get("SecretArn") == wanted:
            return True
        for statement in _listify(entry.get("Statement", [])):
            actions = _listify(statement.get("Action", []))
            resources = [r for value in _listify(statement.get("Resource", [])) for r in _branches(value)]
            if "secretsmanager:GetSecretValue" in actions and wanted in resources:
                return True
    return False


EMBEDDING = functions_reaching(TEMPLATE, reads_embedders)
# The functions whose code counts filter usage (auto_create_indexes): they, and only they, may
# UpdateItem the USAGE# partitions.
FILTER_USAGE = functions_reaching(TEMPLATE, counts_filter_usage)


def test_the_functions_that_count_filter_usage_are_found_from_the_code() -> None:
    # The control: every search-style route counts (search, both executes, feature search).
    assert {"SearchFunction", "ExecuteRetrieverFunction", "ExecuteAdhocRetrieverFunction"} <= set(
        FILTER_USAGE
    )
    assert "SearchFeaturesFunction" in FILTER_USAGE and "GetNamespaceFunction" not in FILTER_USAGE


def test_the_functions_that_embed_are_found_from_the_code() -> None:
    # The control: the derivation finds the three that embed (queries, text upserts, extraction)
    # and not a function that only reads documents.
    assert {"SearchFunction", "UpsertDocumentsFunction", "ExtractorFunction"} <= set(EMBEDDING), EMBEDDING
    assert "GetDocumentFunction" not in EMBEDDING and "HealthFunction" not in EMBEDDING


@pytest.mark.parametrize("name", sorted(EMBEDDING))
def test_a_function_that_embeds_can_read_the_openai_key(name: str) -> None:
    assert grants_secret(RESOURCES[name], "OpenAiApiKeySecretArn"), (
        f"{name} embeds text ({', '.join(EMBEDDING[name])}) but cannot read OpenAiApiKeySecretArn: "
        "add AWSSecretsManagerGetSecretValuePolicy for it (under the HasOpenAiSecret condition)"
    )


def test_the_secret_check_sees_a_missing_and_a_present_grant() -> None:
    secret = {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "OpenAiApiKeySecretArn"}}}
    other = {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "PineconeApiKeySecretArn"}}}
    assert grants_secret(
        _function({"Fn::If": ["HasOpenAiSecret", secret, {"Ref": "AWS::NoValue"}]}), "OpenAiApiKeySecretArn"
    )
    assert not grants_secret(_function(other), "OpenAiApiKeySecretArn")
    statement = _statement("secretsmanager:GetSecretValue", {"Ref": "OpenAiApiKeySecretArn"})
    assert grants_secret(_function(statement), "OpenAiApiKeySecretArn")
