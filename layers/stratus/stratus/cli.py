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

To add a command group (e.g. `stratus indexes run-auto`), write a module `cli_<group>.py` with
an `add_<group>_commands` function like `cli_keys.add_keys_commands` and call it from
`build_parser`; each leaf parser sets `handler=` to a function `(args) -> int`. What the groups
share (exit codes, `CommandError`, the connection options, output) is in `cli_common.py`.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from stratus.cli_common import EXIT_FAILURE, EXIT_USAGE, CommandError, Handler
from stratus.cli_indexes import add_indexes_commands
from stratus.cli_keys import add_keys_commands
from stratus.cli_limits import add_limits_commands
from stratus.errors import MetadataStoreUnavailableError, StratusError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stratus", description="Stratus operator commands.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_keys_commands(commands)
    add_indexes_commands(commands)
    add_limits_commands(commands)
    from stratus.cli_tasks import add_tasks_commands

    add_tasks_commands(commands, CommandError)
    return parser


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
