"""The scheduled `auto_create_indexes` function (EventBridge `rate(6 hours)`): threshold and
window from settings, stores from the process's container."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from stratus import clock
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
