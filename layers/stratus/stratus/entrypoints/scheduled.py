"""The scheduled `auto_create_indexes` function (EventBridge `rate(6 hours)`): threshold and
window from settings, stores from the process's container. The EventBridge event id is the
correlation id of its log lines."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging.correlation_paths import EVENT_BRIDGE

from stratus import clock, observability
from stratus.container import get_container
from stratus.services.auto_indexes import run_auto_indexes

logger = logging.getLogger(__name__)


def handle_scheduled_event(event: Mapping[str, Any]) -> dict[str, Any]:
    container = get_container()
    settings = container.settings
    logger.info("auto_create_indexes run (event id %s)", event.get("id", "-"))
    report = run_auto_indexes(
        container, clock.utc_now(), settings.auto_index_threshold, settings.auto_index_window_hours
    )
    return report.as_dict()


@observability.entrypoint("auto_create_indexes", count_metric="Runs", correlation_id_path=EVENT_BRIDGE)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    report = handle_scheduled_event(event)
    invocation = observability.current()
    if invocation is not None:
        checked, created, errors = report["namespaces_checked"], len(report["created"]), len(report["errors"])
        invocation.add("NamespacesChecked", checked)
        invocation.add("IndexesCreated", created)
        invocation.add("IndexErrors", errors)
        invocation.summary = (
            f"auto_create_indexes: {checked} namespace(s) checked, {created} index(es) created, "
            f"{errors} error(s)"
        )
    return report
