"""What every `stratus` command group shares: exit codes, the operator-facing error, the
connection options (defaults from the environment), the metadata store they name, and output."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure with a message meant for the operator."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ---------------------------------------------------------------------------------------------
# Defaults from the environment (read when the parser is built, so tests can monkeypatch env).


def _first_env(*names: str) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def default_table() -> str:
    return _first_env("STRATUS_TABLE_NAME") or "stratus"


def default_endpoint_url() -> str | None:
    return _first_env("STRATUS_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL")


def default_region() -> str:
    return _first_env("STRATUS_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1"


# ---------------------------------------------------------------------------------------------
# Parsers


def add_connection_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
    """Declared on the group parser (with defaults) and again on every leaf parser with
    SUPPRESS defaults, so `keys --table t create` and `keys create --table t` both work and a
    leaf never overwrites a value given at group level."""

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    parser.add_argument(
        "--table",
        default=default(default_table()),
        help="DynamoDB table name (env STRATUS_TABLE_NAME, default 'stratus')",
    )
    parser.add_argument(
        "--endpoint-url",
        default=default(default_endpoint_url()),
        help="DynamoDB endpoint, e.g. a local emulator (env STRATUS_AWS_ENDPOINT_URL, AWS_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--region",
        default=default(default_region()),
        help="AWS region (env AWS_REGION, AWS_DEFAULT_REGION, default us-east-1)",
    )


def leaf(
    subparsers: Any, name: str, help_text: str, handler: Handler, connection: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    if connection:
        add_connection_options(parser, with_defaults=False)
    parser.set_defaults(handler=handler)
    return parser


def metadata_store(args: argparse.Namespace) -> DynamoDBMetadataStore:
    """The store the connection options name (a bad --endpoint-url is a usage error)."""
    store = DynamoDBMetadataStore(table_name=args.table, endpoint_url=args.endpoint_url, region=args.region)
    try:
        store.client  # noqa: B018 - built now so a bad URL is a usage error, not a traceback
    except ValueError as error:
        raise CommandError(f"invalid --endpoint-url {args.endpoint_url!r}: {error}", EXIT_USAGE) from error
    return store


def print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2) + "\n")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
