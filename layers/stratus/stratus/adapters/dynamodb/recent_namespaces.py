"""The namespaces a store read recently, for `find_namespace(max_age_seconds=...)`."""

from __future__ import annotations

import time

from stratus.models.namespaces import Namespace

# Namespaces a store keeps recently read copies of (`find_namespace(max_age_seconds=...)`).
MAX_RECENT_NAMESPACES = 1024


class RecentNamespaces:
    """(org, id or name) → (monotonic time read, namespace), at most MAX_RECENT_NAMESPACES (the
    oldest entry goes first)."""

    def __init__(self) -> None:
        self._copies: dict[tuple[str, str], tuple[float, Namespace]] = {}

    def get(self, key: tuple[str, str], max_age_seconds: float) -> Namespace | None:
        recent = self._copies.get(key)
        if recent is not None and time.monotonic() - recent[0] <= max_age_seconds:
            return recent[1]
        return None

    def put(self, key: tuple[str, str], namespace: Namespace) -> None:
        if len(self._copies) >= MAX_RECENT_NAMESPACES:
            self._copies.pop(next(iter(self._copies)), None)
        self._copies[key] = (time.monotonic(), namespace)

    def clear(self) -> None:
        self._copies.clear()
