"""`stratus indexes run-auto`: the scheduled auto_create_indexes job, run now."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stratus.cli_common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_connection_options,
    leaf,
    metadata_store,
    print_json,
)


def add_indexes_commands(commands: Any) -> None:
    indexes = commands.add_parser("indexes", help="payload index tasks", description="Payload index tasks.")
    add_connection_options(indexes, with_defaults=True)
    actions = indexes.add_subparsers(dest="action", metavar="ACTION", required=True)

    run_auto = leaf(
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
    metadata_store(args)  # validates --endpoint-url up front
    report = run_auto_indexes(Container(settings), clock.utc_now(), threshold, window)
    if args.json:
        print_json(report.as_dict(), sys.stdout)
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
