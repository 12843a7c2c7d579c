"""`stratus keys create | revoke | list`: an organization's API keys (a secret is shown once,
at creation; listings never show one)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stratus.cli_common import (
    EXIT_OK,
    CommandError,
    add_connection_options,
    leaf,
    metadata_store,
    print_json,
    print_table,
)
from stratus.errors import NotFoundError
from stratus.ports.metadata import ApiKey
from stratus.services import api_keys


def add_keys_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage API keys", description="Manage API keys.")
    add_connection_options(keys, with_defaults=True)
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = leaf(actions, "create", "create an API key and print it (shown only once)", _keys_create)
    create.add_argument("--org", required=True, help="organization id the key belongs to")
    create.add_argument("--name", required=True, help="a label for the key")
    create.add_argument(
        "--permissions",
        nargs="+",
        choices=api_keys.ALL_PERMISSIONS,
        default=["read", "write"],
        help="permissions (admin > write > read; default: read write)",
    )
    create.add_argument("--json", action="store_true", help="print JSON")

    revoke = leaf(actions, "revoke", "revoke an API key by its id", _keys_revoke)
    revoke.add_argument("--org", required=True, help="organization id the key belongs to")
    revoke.add_argument("--key-id", required=True, help="the key id (key_...), as printed by create/list")
    revoke.add_argument("--json", action="store_true", help="print JSON")

    listing = leaf(actions, "list", "list an organization's API keys (never their secrets)", _keys_list)
    listing.add_argument("--org", required=True, help="organization id")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _public_key_fields(key: ApiKey) -> dict[str, Any]:
    # Deliberately not `asdict(key)`: that would include the hash.
    return {
        "key_id": key.key_id,
        "org_id": key.org_id,
        "name": key.name,
        "permissions": list(key.permissions),
        "created_at": key.created_at,
        "revoked": key.revoked,
    }


def _keys_create(args: argparse.Namespace) -> int:
    plaintext, key = api_keys.create_api_key(metadata_store(args), args.org, args.name, args.permissions)
    if args.json:
        print_json({"api_key": plaintext, **_public_key_fields(key)}, sys.stdout)
        return EXIT_OK
    print(f"Created API key {key.key_id} for organization {key.org_id} ({', '.join(key.permissions)}).")
    print("Store it now; it is not shown again:")
    print(plaintext)
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    try:
        api_keys.revoke_api_key(metadata_store(args), args.org, args.key_id)
    except NotFoundError as error:
        raise CommandError(
            f"no API key '{args.key_id}' in organization '{args.org}' "
            f"(see `stratus keys list --org {args.org}`)"
        ) from error
    if args.json:
        print_json({"key_id": args.key_id, "org_id": args.org, "revoked": True}, sys.stdout)
    else:
        print(f"Revoked API key {args.key_id} of organization {args.org}.")
    return EXIT_OK


def _keys_list(args: argparse.Namespace) -> int:
    keys = sorted(metadata_store(args).list_api_keys(args.org), key=lambda key: key.created_at)
    if args.json:
        print_json([_public_key_fields(key) for key in keys], sys.stdout)
        return EXIT_OK
    if not keys:
        print(f"No API keys in organization {args.org}.")
        return EXIT_OK
    rows = [
        (
            key.key_id,
            key.name,
            ",".join(key.permissions),
            key.created_at,
            "revoked" if key.revoked else "active",
        )
        for key in keys
    ]
    print_table(("KEY ID", "NAME", "PERMISSIONS", "CREATED AT", "STATUS"), rows)
    return EXIT_OK
