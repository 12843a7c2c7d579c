"""template.yaml gives every function what stratus/observability.py reads: the service and metrics
namespace it writes, the stage of every log line and metric, X-Ray on (Lambda's own segments),
and STRATUS_TRACING: a parameter for the HTTP functions (off by default: its cold-start cost takes
the functions nearest the goal to its edge), always on for the extractor and the scheduled job."""

from __future__ import annotations

from typing import Any

import pytest

from stratus import observability
from stratus.settings import Settings
from stratus_local.template import load_template, resources_of_type

NOT_HTTP = ("ExtractorFunction", "AutoCreateIndexesFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _variables(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's environment as deployed: the Globals' with the function's own on top."""
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    function = template["Resources"][logical_id]["Properties"]
    variables.update(function.get("Environment", {}).get("Variables", {}))
    return variables


def test_every_function_gets_the_service_namespace_stage_and_tracing(template: dict[str, Any]) -> None:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert set(NOT_HTTP) <= set(functions) and len(functions) > len(NOT_HTTP)
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    for logical_id in functions:
        variables = _variables(template, logical_id)
        assert variables["POWERTOOLS_SERVICE_NAME"] == observability.SERVICE, logical_id
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == observability.DEFAULT_METRICS_NAMESPACE
        assert variables["STRATUS_STAGE"] == {"Ref": "Stage"}, logical_id
        assert "POWERTOOLS_METRICS_DISABLED" not in variables and "POWERTOOLS_TRACE_DISABLED" not in variables
        expected = "true" if logical_id in NOT_HTTP else {"Ref": "ApiTracing"}
        assert variables["STRATUS_TRACING"] == expected, logical_id
        assert "Tracing" not in functions[logical_id]["Properties"], f"{logical_id} overrides Tracing"


def test_http_tracing_is_a_parameter_off_by_default(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["ApiTracing"]
    assert parameter["Default"] == "false" and parameter["AllowedValues"] == ["false", "true"]
    # Both values are booleans to the settings
    assert Settings.from_environment({"STRATUS_TRACING": "true"}).tracing is True
    assert Settings.from_environment({"STRATUS_TRACING": "false"}).tracing is False


def test_the_stage_setting_is_the_template_stage_parameter(template: dict[str, Any]) -> None:
    default = template["Parameters"]["Stage"]["Default"]
    assert Settings.from_environment({"STRATUS_STAGE": default}).stage == default
    assert Settings().stage == "local"
