"""Fields the Mixpeek SDK's request models define that Stratus accepts without applying them.

api.md's rule: every field an SDK request model defines is accepted; one Stratus does not
implement is reported in the answer's `warnings` ("accepted, not applied: why"), never silently
dropped and never a 422. A value that asks for nothing beyond what Stratus does anyway (null,
`false`, an empty list, the SDK's own default) is not worth a warning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

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
        than Stratus does, nested request models included (`location` prefixes the paths).
        Only the fields that can warn are looked at (`_plan`): an upsert's 1,000 documents that
        set none of them cost a set comparison each, not a walk over every field."""
        assert isinstance(self, BaseModel)
        if not self._may_warn():
            return []
        _, nestable, order = _plan(type(self))
        fields_set = self.model_fields_set
        warnings: list[str] = []
        for name in order:
            spec = self.NOT_APPLIED.get(name)
            applies = spec is not None and name in fields_set
            if not applies and name not in nestable:
                continue
            value = getattr(self, name)
            path = f"{location}{name}"
            if applies and spec is not None and not spec.is_neutral(value):
                warnings.append(not_applied_warning(path, spec.reason))
            if name in nestable:
                warnings.extend(_nested(value, path))
        return warnings

    def _may_warn(self) -> bool:
        """False when `unapplied` has nothing to look at: no field that can warn was set, and no
        field can hold a model that might."""
        assert isinstance(self, BaseModel)
        not_applied, nestable, _ = _plan(type(self))
        return bool(nestable) or not self.model_fields_set.isdisjoint(not_applied)


@cache
def _plan(model: type[BaseModel]) -> tuple[frozenset[str], frozenset[str], tuple[str, ...]]:
    """A model's not-applied fields, the fields whose value may hold a `ReportsUnapplied`
    model (itself or in a list), and both in field order: the only fields that can warn."""
    not_applied = frozenset(getattr(model, "NOT_APPLIED", {}))
    nestable = frozenset(name for name, field in model.model_fields.items() if _may_report(field.annotation))
    order = tuple(name for name in model.model_fields if name in not_applied or name in nestable)
    return not_applied, nestable, order


def _may_report(annotation: Any, in_list: bool = False) -> bool:
    """Whether `_nested` may find a model in a value of this type: a `ReportsUnapplied` model,
    or a list holding one, through unions, Optional and Annotated. Loose types (Any, a bare
    list) count: a missed warning would be a silent drop. Dicts never do: `_nested` does not
    look into them."""
    if annotation is Any or annotation is object:
        return True
    origin = get_origin(annotation)
    if origin is None:
        if annotation is list:
            return not in_list
        return isinstance(annotation, type) and issubclass(annotation, ReportsUnapplied)
    if origin is Annotated:
        return _may_report(get_args(annotation)[0], in_list)
    if origin is Union or origin is UnionType:
        return any(_may_report(arg, in_list) for arg in get_args(annotation))
    if origin is list and not in_list:
        args = get_args(annotation)
        return not args or _may_report(args[0], in_list=True)
    return False


def _nested(value: Any, path: str) -> list[str]:
    if isinstance(value, ReportsUnapplied):
        return value.unapplied(f"{path}.")
    if isinstance(value, list):
        found: list[str] = []
        for position, item in enumerate(value):
            if isinstance(item, ReportsUnapplied) and item._may_warn():  # (no path built for the rest)
                found.extend(item.unapplied(f"{path}[{position}]."))
        return found
    return []
