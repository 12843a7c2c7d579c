"""The local stack's command line: `python -m stratus_local --help`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = Path(".stratus")
INFO_FILE_NAME = "stack.json"


class StackError(Exception):
    """A start-up failure with a message for the developer (no traceback)."""


@dataclass(frozen=True)
class StackOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    aws_port: int = 0
    data_dir: Path = DEFAULT_DATA_DIR
    key_file: Path | None = None
    info_file: Path | None = None  # default: <data_dir>/stack.json
    workers: int = 1
    log_level: str = "info"


def _default_port() -> int:
    raw = os.environ.get("STRATUS_PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"STRATUS_PORT must be a port number, got {raw!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stratus_local",
        description="Run the Stratus API locally: moto (DynamoDB/S3/SQS), LanceDB and uvicorn on "
        "127.0.0.1. All data is temporary: the data dir is wiped at every start.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"API port (default: env STRATUS_PORT or {DEFAULT_PORT}; 0 picks a free port)",
    )
    parser.add_argument("--aws-port", type=int, default=0, help="AWS emulation port (default 0: a free port)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="working data (LanceDB, info file); WIPED at every start (default .stratus)",
    )
    parser.add_argument("--key-file", type=Path, default=None, help="also write the dev API key to this file")
    parser.add_argument(
        "--info-file",
        type=Path,
        default=None,
        help=f"where to write the stack's JSON info (default <data-dir>/{INFO_FILE_NAME})",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (default info)",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> StackOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        port = args.port if args.port is not None else _default_port()
    except StackError as error:
        parser.error(str(error))
    if not 0 <= port <= 65535 or not 0 <= args.aws_port <= 65535:
        parser.error("ports must be between 0 and 65535")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return StackOptions(
        host=args.host,
        port=port,
        aws_port=args.aws_port,
        data_dir=args.data_dir,
        key_file=args.key_file,
        info_file=args.info_file,
        workers=args.workers,
        log_level=args.log_level,
    )
