"""`{{INPUT.x}}` / `{{inputs.x}}` templates in a stage's parameters (a dot path into the
execution's `inputs`): found, and replaced by the inputs when a pipeline runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stratus.errors import BadRequestError

_TEMPLATE = re.compile(r"\{\{\s*(?:INPUTS?|inputs?)\.([A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")
_MISSING = object()


_SCALARS = (int, float, type(None))


def has_templates(value: Any) -> bool:
    # Concrete JSON types first: a vector's hundreds of floats must not each go through the ABC
    # machinery of `isinstance(x, Mapping)`.
    if isinstance(value, str):
        return "{{" in value and _TEMPLATE.search(value) is not None
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, list | tuple):
        return any(has_templates(inner) for inner in value if not isinstance(inner, _SCALARS))
    if isinstance(value, Mapping):
        return any(has_templates(inner) for inner in value.values())
    return False


class MissingInputError(BadRequestError):
    """A template names an input the execution did not give (and no default covers)."""

    def __init__(self, name: str, location: str, given: list[str]) -> None:
        super().__init__(
            f"inputs.{name}: missing input '{name}', used by {location}; given inputs: "
            f"{', '.join(given) or 'none'} (send it in 'inputs', or give it a default in input_schema)",
            {"field": f"inputs.{name}", "used_at": location, "given_inputs": given},
        )


def resolve_templates(value: Any, inputs: Mapping[str, Any], location: str) -> Any:
    """`value` with every template replaced: a string that is exactly one template takes the
    input's value whatever its type (a vector stays a list); a template inside a longer string is
    replaced by the input's text."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole is not None:
            return _input(inputs, whole.group(1), location)
        return _TEMPLATE.sub(lambda match: _text(_input(inputs, match.group(1), location)), value)
    if isinstance(value, _SCALARS) or not has_templates(value):
        return value
    if isinstance(value, list):
        return [resolve_templates(inner, inputs, f"{location}[{i}]") for i, inner in enumerate(value)]
    if isinstance(value, Mapping):
        return {key: resolve_templates(inner, inputs, f"{location}.{key}") for key, inner in value.items()}
    return value


def _input(inputs: Mapping[str, Any], path: str, location: str) -> Any:
    current: Any = inputs
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            raise MissingInputError(path, location, sorted(inputs))
        current = current[part]
    return current


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value)
