"""`stratus tasks watch <task_id>`: follow a task through the API (`GET /v1/tasks/{id}`) and draw
its progress until it ends.

    stratus tasks watch TASK_ID [--url URL] [--api-key KEY] [--namespace NS] [--interval S]
                                [--timeout S] [--json]

`--url` defaults to env STRATUS_API_URL (else http://127.0.0.1:8000, `make dev`'s), `--api-key`
to env STRATUS_API_KEY; `--namespace` goes in `X-Namespace`. On a terminal one line is redrawn;
otherwise a line is printed each time the task changes. Exit 0 when the task COMPLETED, 1 when
it ended otherwise (FAILED, CANCELED, COMPLETED_WITH_ERRORS), could not be read, or `--timeout`
passed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TextIO

DEFAULT_URL = "http://127.0.0.1:8000"
BAR_WIDTH = 30
END_STATUSES = frozenset({"COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED"})

Fetch = Callable[[], Mapping[str, Any]]


class WatchError(Exception):
    """A failure with a message for the user."""


def add_tasks_commands(commands: Any, handler_error: type[Exception]) -> None:
    tasks = commands.add_parser("tasks", help="follow async tasks", description="Follow async tasks.")
    actions = tasks.add_subparsers(dest="action", metavar="ACTION", required=True)
    watch = actions.add_parser(
        "watch",
        help="draw a task's progress until it ends (GET /v1/tasks/{id})",
        description="Draw a task's progress until it ends (GET /v1/tasks/{id}).",
    )
    watch.add_argument("task_id", help="the task id (task_...), e.g. a promotion's backfill_task_id")
    watch.add_argument(
        "--url",
        default=os.environ.get("STRATUS_API_URL") or DEFAULT_URL,
        help="API base URL (env STRATUS_API_URL)",
    )
    watch.add_argument(
        "--api-key", default=os.environ.get("STRATUS_API_KEY"), help="API key (env STRATUS_API_KEY)"
    )
    watch.add_argument("--namespace", default=None, help="the task's namespace (sent as X-Namespace)")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    watch.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    watch.add_argument("--json", action="store_true", help="print the final task as JSON")
    watch.set_defaults(handler=lambda args: watch_command(args, handler_error))


def watch_command(args: argparse.Namespace, handler_error: type[Exception]) -> int:
    if not args.api_key:
        raise handler_error("no API key: pass --api-key or set STRATUS_API_KEY")
    if args.interval <= 0:
        raise handler_error("--interval must be positive")
    fetch = http_fetch(args.url, args.task_id, args.api_key, args.namespace)
    try:
        task = watch(fetch, sys.stdout, args.interval, args.timeout, tty=sys.stdout.isatty(), quiet=args.json)
    except WatchError as error:
        raise handler_error(str(error)) from error
    if args.json:
        sys.stdout.write(json.dumps(dict(task), indent=2) + "\n")
    return 0 if task.get("status") == "COMPLETED" else 1


def http_fetch(base_url: str, task_id: str, api_key: str, namespace: str | None) -> Fetch:
    url = f"{base_url.rstrip('/')}/v1/tasks/{urllib.parse.quote(task_id, safe='')}"
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    if namespace:
        headers["X-Namespace"] = namespace

    def fetch() -> Mapping[str, Any]:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body: dict[str, Any] = json.loads(response.read())
                return body
        except urllib.error.HTTPError as error:
            raise WatchError(f"GET {url} answered {error.code}: {_message(error)}") from error
        except (urllib.error.URLError, OSError) as error:
            raise WatchError(f"cannot reach {base_url} ({error}); is the API running? check --url") from error

    return fetch


def _message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return error.reason or "error"


def watch(
    fetch: Fetch,
    out: TextIO,
    interval: float,
    timeout: float | None = None,
    *,
    tty: bool = False,
    quiet: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Mapping[str, Any]:
    """Poll until the task ends; returns its last state. On a terminal the line is redrawn."""
    deadline = None if timeout is None else clock() + timeout
    last = ""
    while True:
        task = fetch()
        line = render(task)
        if not quiet and line != last:
            out.write(("\r\x1b[2K" + line) if tty else line + "\n")
            out.flush()
            last = line
        if task.get("status") in END_STATUSES:
            if tty and not quiet:
                out.write("\n")
            return task
        if deadline is not None and clock() >= deadline:
            raise WatchError(f"task {task.get('task_id')} still {task.get('status')} after {timeout:g} s")
        sleep(interval)


def render(task: Mapping[str, Any], width: int = BAR_WIDTH) -> str:
    """One line: a bar, the share done, the counts, the estimate and the status."""
    status = str(task.get("status", "?"))
    total = task.get("total")
    counts = {name: int(task.get(name) or 0) for name in ("processed", "skipped", "failed")}
    done = sum(counts.values())
    if isinstance(total, int) and total > 0:
        share = min(1.0, done / total)
        filled = round(share * width)
        head = f"[{'#' * filled}{'.' * (width - filled)}] {share * 100:5.1f}%  {done}/{total}"
    elif status in END_STATUSES:
        head = f"[{'#' * width}] {100.0:5.1f}%  {done}/{done}"
    else:
        head = f"[{'.' * width}]   ...   listing documents"
    parts = [
        head,
        f"processed {counts['processed']}",
        f"skipped {counts['skipped']}",
        f"failed {counts['failed']}",
    ]
    eta = task.get("eta_seconds")
    if isinstance(eta, int | float) and status not in END_STATUSES:
        parts.append(f"eta {_duration(float(eta))}")
    parts.append(status)
    line = "  ".join(parts)
    if task.get("error") and status in END_STATUSES:
        line += f"  ({task['error']})"
    return line


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
