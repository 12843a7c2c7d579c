"""`stratus limits show | set | clear`: an organization's own rate limits (requests per minute
by category; the categories it has none for follow STRATUS_RATE_LIMITS)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stratus.cli_common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_connection_options,
    leaf,
    metadata_store,
    print_json,
    print_table,
)
from stratus.domain import rate_limits as rate_rules


def add_limits_commands(commands: Any) -> None:
    limits = commands.add_parser(
        "limits",
        help="an organization's rate limits",
        description="An organization's own rate limits (requests per minute by category); "
        "categories it has none for follow STRATUS_RATE_LIMITS. Running containers pick a change "
        "up within STRATUS_AUTH_CACHE_SECONDS.",
    )
    add_connection_options(limits, with_defaults=True)
    actions = limits.add_subparsers(dest="action", metavar="ACTION", required=True)

    show = leaf(actions, "show", "show an organization's own limits and the defaults", _limits_show)
    show.add_argument("--org", required=True, help="organization id")
    show.add_argument("--json", action="store_true", help="print JSON")

    setting = leaf(actions, "set", "set some of an organization's limits (0: unlimited)", _limits_set)
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

    clear = leaf(actions, "clear", "remove an organization's own limits (defaults apply)", _limits_clear)
    clear.add_argument("--org", required=True, help="organization id")


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
        print_json({"org_id": org_id, "window": rate_rules.WINDOW_NAME, "limits": rows}, sys.stdout)
        return
    print(f"Rate limits of organization {org_id} (requests per minute; 0 = unlimited):")
    print_table(
        ("CATEGORY", "LIMIT", "FROM"), [(row["category"], str(row["limit"]), row["source"]) for row in rows]
    )


def _limits_show(args: argparse.Namespace) -> int:
    _print_limits(args.org, metadata_store(args).get_rate_limits(args.org), args.json)
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
    _print_limits(args.org, set_limits(metadata_store(args), args.org, wanted), args.json)
    return EXIT_OK


def _limits_clear(args: argparse.Namespace) -> int:
    metadata_store(args).put_rate_limits(args.org, {})
    print(f"Organization {args.org} follows the default rate limits now.")
    return EXIT_OK
