"""Fields the Mixpeek SDK's request models define that Stratus accepts without applying them.

api.md's rule: every field an SDK request model defines is accepted; one Stratus does not
implement is reported in the answer's `warnings` ("accepted, not applied: why"), never silently
dropped and never a 422. A value that asks for nothing beyond what Stratus does anyway (null,
`false`, an empty list, the SDK's own default) is not worth a warning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel


@dataclass(frozen=True)
class NotApplied:
    """Why a field is not applied; values in `neutral` change nothing, so they draw no warning."""

    reason: str
    neutral: tuple[Any, ...] = ()

    def is_neutral(self, value: Any) -> bool:
        if value is None or value is False or value == [] or value == {}:
            return True
        return any(value == neutral and type(value) is type(neutral) for neutral in self.neutral)


def not_applied_warning(location: str, reason: str) -> str:
    return f"{location}: accepted but not applied: {reason}"


class ReportsUnapplied:
    """Mixed into a request model: `NOT_APPLIED` names its SDK fields Stratus does not apply."""

    NOT_APPLIED: ClassVar[Mapping[str, NotApplied]] = {}

    def unapplied(self, location: str = "") -> list[str]:
        """One warning per not-applied field the request set to something that asks for more
        than Stratus does, nested request models included (`location` prefixes the paths)."""
        assert isinstance(self, BaseModel)
        warnings: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            spec = self.NOT_APPLIED.get(name)
            path = f"{location}{name}"
            if spec is not None and name in self.model_fields_set and not spec.is_neutral(value):
                warnings.append(not_applied_warning(path, spec.reason))
            warnings.extend(_nested(value, path))
        return warnings


def _nested(value: Any, path: str) -> list[str]:
    if isinstance(value, ReportsUnapplied):
        return value.unapplied(f"{path}.")
    if isinstance(value, list):
        found: list[str] = []
        for position, item in enumerate(value):
            if isinstance(item, ReportsUnapplied):
                found.extend(item.unapplied(f"{path}[{position}]."))
        return found
    return []
