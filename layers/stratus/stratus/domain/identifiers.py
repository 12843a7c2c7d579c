"""The rule every client-chosen identifier and name follows before it reaches a key.

The metadata store builds its keys by joining parts with `#` (`NS#{namespace}#BKT#{bucket}`,
adapters/dynamodb/schema.py). A client value holding that separator could name another item's key:
`GET /v1/namespaces/ns_1%23BKT%23bkt_2` once read a bucket item as a namespace (a 500). So a value
that holds a reserved character is refused with a 400 naming the field it came in, before any
read; and the store checks the `entity` of every item it reads besides (defence in depth). A test
(tests/security/test_hostile_identifiers.py) derives the separators from the key builders, so a
new separator cannot be added without reserving it here.
"""

from __future__ import annotations

from stratus.errors import AlreadyExistsError, BadRequestError

# The characters the key schema joins parts with.
RESERVED_CHARACTERS = frozenset("#")


def reserved_in(value: str) -> list[str]:
    """The reserved characters `value` holds, in order of first appearance (empty: none)."""
    return sorted({c for c in value if c in RESERVED_CHARACTERS}, key=value.index)


def reserved_message(field: str, found: list[str]) -> str:
    quoted = ", ".join(f"'{c}'" for c in found)
    return f"{field} must not contain {quoted}: identifiers and names never hold the key separator"


def check_identifier(value: str, field: str) -> str:
    """`value` unchanged, or a 400 naming `field` (a path parameter, a header, a body field)."""
    found = reserved_in(value)
    if found:
        raise BadRequestError(reserved_message(field, found), {"field": field, "reserved": found})
    return value


def check_name(value: str, field: str) -> str:
    """For pydantic validators of names that become keys (a `ValueError` becomes a 422 there)."""
    found = reserved_in(value)
    if found:
        raise ValueError(reserved_message(field, found))
    return value


# Namespace ids and names are looked up alike (`{namespace_identifier}`, `X-Namespace`: an id
# first, then a name), so within an organization a value is at most one namespace's id or name.
# The metadata store enforces it in the transaction that writes a namespace or renames it.


def namespace_exists_error(namespace_id: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace '{namespace_id}' already exists",
        {"resource": "namespace", "id": namespace_id},
    )


def name_taken_error(namespace_name: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace_name '{namespace_name}' is already used by another namespace in this "
        "organization; choose a different namespace_name",
        {"resource": "namespace", "field": "namespace_name", "value": namespace_name},
    )


def id_is_a_name_error(namespace_id: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace_id '{namespace_id}' is the namespace_name of another namespace in this "
        "organization; ids and names are looked up alike ({namespace_identifier}, X-Namespace), "
        "so choose an id that is not a name in use",
        {"resource": "namespace", "field": "namespace_id", "value": namespace_id},
    )


def name_is_an_id_error(namespace_name: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"namespace_name '{namespace_name}' is the namespace_id of another namespace in this "
        "organization; ids and names are looked up alike ({namespace_identifier}, X-Namespace), "
        "so choose a name that is not an id in use",
        {"resource": "namespace", "field": "namespace_name", "value": namespace_name},
    )
