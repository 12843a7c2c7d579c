"""`stratus` command line: operator tasks that have no HTTP route.

    stratus keys create --org ORG --name NAME [--permissions read write admin] [--json]
    stratus keys revoke --org ORG --key-id KEY_ID
    stratus keys list   --org ORG [--json]
    stratus indexes run-auto [--threshold N] [--window-hours H] [--json]
    stratus limits show  --org ORG [--json]
    stratus limits set   --org ORG [--metadata N] [--data N] [--search N] [--upload N] [--compute N]
    stratus limits clear --org ORG
    stratus tasks watch TASK_ID [--url URL] [--api-key KEY] [--namespace NS]   (stratus/cli_tasks.py)

Connection options (`--table`, `--endpoint-url`, `--region`) belong to each command group and
may be given before or after the subcommand. AWS credentials come from the usual boto3 chain.

Exit codes: 0 success, 1 the operation failed (unknown key, missing table, unreachable
endpoint, ...), 2 the command line is wrong.

To add a command group (e.g. `stratus indexes run-auto`), write an `_add_<group>_commands`
function like `_add_keys_commands` and call it from `build_parser`; each leaf parser sets
`handler=` to a function `(args) -> int`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
from stratus.domain import rate_limits as rate_rules
from stratus.errors import MetadataStoreUnavailableError, NotFoundError, StratusError
from stratus.ports.metadata import ApiKey
from stratus.services import api_keys

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
# Parser


def _add_connection_options(parser: argparse.ArgumentParser, *, with_defaults: bool) -> None:
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


def _leaf(
    subparsers: Any, name: str, help_text: str, handler: Handler, connection: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    if connection:
        _add_connection_options(parser, with_defaults=False)
    parser.set_defaults(handler=handler)
    return parser


def _add_keys_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage API keys", description="Manage API keys.")
    _add_connection_options(keys, with_defaults=True)
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = _leaf(actions, "create", "create an API key and print it (shown only once)", _keys_create)
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

    revoke = _leaf(actions, "revoke", "revoke an API key by its id", _keys_revoke)
    revoke.add_argument("--org", required=True, help="organization id the key belongs to")
    revoke.add_argument("--key-id", required=True, help="the key id (key_...), as printed by create/list")
    revoke.add_argument("--json", action="store_true", help="print JSON")

    listing = _leaf(actions, "list", "list an organization's API keys (never their secrets)", _keys_list)
    listing.add_argument("--org", required=True, help="organization id")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _add_indexes_commands(commands: Any) -> None:
    indexes = commands.add_parser("indexes", help="payload index tasks", description="Payload index tasks.")
    _add_connection_options(indexes, with_defaults=True)
    actions = indexes.add_subparsers(dest="action", metavar="ACTION", required=True)

    run_auto = _leaf(
        actions,
        "run-auto",
        "run the scheduled auto_create_indexes job now (vectors from the STRATUS_* settings, "
        "e.g. STRATUS_LANCEDB_URI of the running stack)",
        _indexes_run_auto,
    )
    run_auto.add_argument(
        "--threshold",
        type=int,
        default=None,
        help="index fields filtered MORE than this many times (env STRATUS_AUTO_INDEX_THRESHOLD; 100)",
    )
    run_auto.add_argument(
        "--window-hours",
        type=int,
        default=None,
        help="the usage window (env STRATUS_AUTO_INDEX_WINDOW_HOURS, default 24)",
    )
    run_auto.add_argument("--json", action="store_true", help="print JSON")


def _add_limits_commands(commands: Any) -> None:
    limits = commands.add_parser(
        "limits",
        help="an organization's rate limits",
        description="An organization's own rate limits (requests per minute by category); "
        "categories it has none for follow STRATUS_RATE_LIMITS. Running containers pick a change "
        "up within STRATUS_AUTH_CACHE_SECONDS.",
    )
    _add_connection_options(limits, with_defaults=True)
    actions = limits.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = _leaf(actions, "show", "show an organization's own limits and the defaults", _limits_show)
    show.add_argument("--org", required=True, help="organization id")
    show.add_argument("--json", action="store_true", help="print JSON")

    setting = _leaf(actions, "set", "set some of an organization's limits (0: unlimited)", _limits_set)
    setting.add_argument("--org", required=True, help="organization id")
    for category in rate_rules.CATEGORIES:
        setting.add_argument(
            f"--{category}",
            type=int,
            default=None,
            metavar="N",
            help=f"'{category}' requests per minute (default {rate_rules.DEFAULT_LIMITS[category]})",
        )
    setting.add_argument("--json", action="store_true", help="print JSON")

    clear = _leaf(actions, "clear", "remove an organization's own limits (defaults apply)", _limits_clear)
    clear.add_argument("--org", required=True, help="organization id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stratus", description="Stratus operator commands.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_keys_commands(commands)
    _add_indexes_commands(commands)
    _add_limits_commands(commands)
    from stratus.cli_tasks import add_tasks_commands

    add_tasks_commands(commands, CommandError)
    return parser


# ---------------------------------------------------------------------------------------------
# Handlers


def _store(args: argparse.Namespace) -> DynamoDBMetadataStore:
    store = DynamoDBMetadataStore(table_name=args.table, endpoint_url=args.endpoint_url, region=args.region)
    try:
        store.client  # noqa: B018 - built now so a bad URL is a usage error, not a traceback
    except ValueError as error:
        raise CommandError(f"invalid --endpoint-url {args.endpoint_url!r}: {error}", EXIT_USAGE) from error
    return store


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


def _print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2) + "\n")


def _keys_create(args: argparse.Namespace) -> int:
    plaintext, key = api_keys.create_api_key(_store(args), args.org, args.name, args.permissions)
    if args.json:
        _print_json({"api_key": plaintext, **_public_key_fields(key)}, sys.stdout)
        return EXIT_OK
    print(f"Created API key {key.key_id} for organization {key.org_id} ({', '.join(key.permissions)}).")
    print("Store it now; it is not shown again:")
    print(plaintext)
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    try:
        api_keys.revoke_api_key(_store(args), args.org, args.key_id)
    except NotFoundError as error:
        raise CommandError(
            f"no API key '{args.key_id}' in organization '{args.org}' "
            f"(see `stratus keys list --org {args.org}`)"
        ) from error
    if args.json:
        _print_json({"key_id": args.key_id, "org_id": args.org, "revoked": True}, sys.stdout)
    else:
        print(f"Revoked API key {args.key_id} of organization {args.org}.")
    return EXIT_OK


def _keys_list(args: argparse.Namespace) -> int:
    keys = sorted(_store(args).list_api_keys(args.org), key=lambda key: key.created_at)
    if args.json:
        _print_json([_public_key_fields(key) for key in keys], sys.stdout)
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
    _print_table(("KEY ID", "NAME", "PERMISSIONS", "CREATED AT", "STATUS"), rows)
    return EXIT_OK


def _indexes_run_auto(args: argparse.Namespace) -> int:
    # The same settings the stack reads (vector store, LanceDB URI, Pinecone...), with the
    # connection options of the command line for the table.
    from stratus import clock
    from stratus.container import Container
    from stratus.services.auto_indexes import run_auto_indexes
    from stratus.settings import Settings

    settings = Settings.from_environment().model_copy(
        update={"table_name": args.table, "aws_endpoint_url": args.endpoint_url, "aws_region": args.region}
    )
    threshold = settings.auto_index_threshold if args.threshold is None else args.threshold
    window = settings.auto_index_window_hours if args.window_hours is None else args.window_hours
    if threshold < 0 or window < 1:
        raise CommandError("--threshold must be >= 0 and --window-hours >= 1", EXIT_USAGE)
    _store(args)  # validates --endpoint-url up front
    report = run_auto_indexes(Container(settings), clock.utc_now(), threshold, window)
    if args.json:
        _print_json(report.as_dict(), sys.stdout)
    else:
        print(
            f"Checked {report.namespaces_checked} namespace(s) with auto_create_indexes "
            f"(threshold > {threshold} filtered searches in {window} h): "
            f"{len(report.created)} index(es) created."
        )
        for created in report.created:
            print(
                f"  {created['org_id']}/{created['namespace_id']}: {created['field_name']} "
                f"({created['type']}, {created['state']})"
            )
        for skipped in report.skipped:
            print(f"  skipped {skipped['namespace_id']}/{skipped['field_name']}: {skipped['reason']}")
        for error in report.errors:
            print(f"  error in {error['namespace_id']}: {error['error']}", file=sys.stderr)
    return EXIT_FAILURE if report.errors else EXIT_OK


def _limits_rows(org_id: str, own: dict[str, int]) -> list[dict[str, Any]]:
    from stratus.settings import Settings

    defaults = Settings.from_environment().default_rate_limits()
    return [
        {
            "category": category,
            "limit": own.get(category, defaults[category]),
            "source": "organization" if category in own else "default",
        }
        for category in rate_rules.CATEGORIES
    ]


def _print_limits(org_id: str, own: dict[str, int], as_json: bool) -> None:
    rows = _limits_rows(org_id, own)
    if as_json:
        _print_json({"org_id": org_id, "window": rate_rules.WINDOW_NAME, "limits": rows}, sys.stdout)
        return
    print(f"Rate limits of organization {org_id} (requests per minute; 0 = unlimited):")
    _print_table(
        ("CATEGORY", "LIMIT", "FROM"), [(row["category"], str(row["limit"]), row["source"]) for row in rows]
    )


def _limits_show(args: argparse.Namespace) -> int:
    _print_limits(args.org, _store(args).get_rate_limits(args.org), args.json)
    return EXIT_OK


def _limits_set(args: argparse.Namespace) -> int:
    from stratus.services.rate_limits import set_limits

    wanted: dict[str, int] = {}
    for category in rate_rules.CATEGORIES:
        value = getattr(args, category)
        if value is not None:
            try:
                wanted[category] = rate_rules.check_limit(category, value)
            except ValueError as error:
                raise CommandError(str(error), EXIT_USAGE) from error
    if not wanted:
        raise CommandError(
            f"give at least one of {', '.join('--' + c for c in rate_rules.CATEGORIES)}", EXIT_USAGE
        )
    _print_limits(args.org, set_limits(_store(args), args.org, wanted), args.json)
    return EXIT_OK


def _limits_clear(args: argparse.Namespace) -> int:
    _store(args).put_rate_limits(args.org, {})
    print(f"Organization {args.org} follows the default rate limits now.")
    return EXIT_OK


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# ---------------------------------------------------------------------------------------------
# Errors → messages and exit codes (one place)


def _describe_failure(error: Exception, args: argparse.Namespace) -> CommandError:
    endpoint = getattr(args, "endpoint_url", None) or "the default AWS endpoint"
    table = getattr(args, "table", "?")
    if isinstance(error, MetadataStoreUnavailableError):
        return CommandError(f"cannot reach DynamoDB at {endpoint} (is it running? check --endpoint-url)")
    if isinstance(error, NoCredentialsError):
        return CommandError(
            "no AWS credentials found; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile"
        )
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return CommandError(
                f"table '{table}' not found at {endpoint}; check --table / STRATUS_TABLE_NAME "
                "or create the stack's tables first"
            )
        message = error.response.get("Error", {}).get("Message", "")
        return CommandError(f"DynamoDB refused the request ({code}): {message}")
    if isinstance(error, StratusError):
        exit_code = EXIT_USAGE if error.status in (400, 422) else EXIT_FAILURE
        return CommandError(error.message, exit_code)
    return CommandError(f"AWS error: {error}")


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | int:
    try:
        return parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits on --help (0) and on usage errors (2); main() returns instead of exiting.
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parsed = _parse(parser, argv)
    if isinstance(parsed, int):
        return parsed
    handler: Handler = parsed.handler
    try:
        return handler(parsed)
    except CommandError as error:
        failure = error
    except (StratusError, ClientError, BotoCoreError) as error:
        failure = _describe_failure(error, parsed)
    print(f"stratus: error: {failure}", file=sys.stderr)
    return failure.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
