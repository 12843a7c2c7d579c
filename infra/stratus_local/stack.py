"""`python -m stratus_local`: the whole API on 127.0.0.1 with no cloud account and no Docker.

Order of a start, and why:
1. bind the API port first - "port in use" is the commonest failure, and it must not cost the
   developer their data dir or a half-started emulator;
2. lock and clear the data dir - the AWS emulation keeps nothing between runs, so LanceDB must
   not either (vectors without their namespaces would be unreachable garbage);
3. start moto (DynamoDB, S3, SQS) in a thread and point this process's environment at it, so
   the API - in this process or in worker processes spawned later - inherits the settings;
4. create the template's resources (tables, the data bucket and its S3 -> SQS notification, the
   ingest queue and its DLQ) and a dev API key, start the ingest worker (Lambda's SQS event
   source for functions/extractor/app.py), write the key/info files, print the banner;
5. serve the FastAPI app with uvicorn in the foreground until SIGINT/SIGTERM, then stop uvicorn,
   then the ingest worker (it talks to moto), then moto, and exit 0.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gc
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratus_local.backfill_worker import BackfillWorker
    from stratus_local.ingest_worker import IngestWorker
    from stratus_local.moto_server import LocalAws

logger = logging.getLogger("stratus_local")

APP_FACTORY = "stratus.api.app:create_full_app"
DEFAULT_PORT = 8000
DEFAULT_DATA_DIR = Path(".stratus")
TABLE_NAME = "stratus"
# The local names bootstrap.LOCAL_NAMES gives the template's resources (a test keeps them equal).
IDEMPOTENCY_TABLE_NAME = "stratus-idempotency"
DATA_BUCKET = "stratus-data"
INGEST_QUEUE = "stratus-ingest"
DEAD_LETTER_QUEUE = "stratus-ingest-dlq"
BACKFILL_QUEUE = "stratus-backfill"
BACKFILL_DEAD_LETTER_QUEUE = "stratus-backfill-dlq"
# A migration's wait before its swap and before dropping old vectors: 150 s deployed (writers
# hold a namespace up to the extractor's 120 s timeout), a few seconds locally, where the demo's
# writers are quick (services/backfill/messages.py SETTLE_SECONDS; the worker runs in this process).
LOCAL_BACKFILL_SETTLE_SECONDS = 5
REGION = "us-east-1"
DEV_ORG_ID = "local"
DEV_KEY_NAME = "local-dev"
DEV_KEY_PERMISSIONS = ("read", "write", "admin")
INFO_FILE_NAME = "stack.json"
# Lives inside the data dir and survives the clearing: it marks the directory as ours (we refuse
# to wipe a non-empty directory without it) and its flock keeps two stacks off one directory.
LOCK_FILE_NAME = ".stratus-local.lock"
# The first request in the banner's curl line: the seed's standalone namespace.
SEED_NAMESPACE_BODY = {
    "namespace_id": "legal-docs",
    "mode": "standalone",
    "vector_configs": [{"name": "text_embedding", "dimension": 1536, "metric": "cosine"}],
}
# The local stack's rate limits (requests per organization per minute, each category): counted on
# every request as when deployed, so the path is exercised, but far above what one machine can
# send, so `make dev`, the e2e and fuzz suites and `make load` are never throttled. A developer's
# own STRATUS_RATE_LIMITS wins (e.g. `STRATUS_RATE_LIMITS=search=5 make dev` to see a 429).
LOCAL_RATE_LIMITS = "metadata=1000000,data=1000000,search=1000000,upload=1000000,compute=1000000"
# Seconds uvicorn waits for in-flight requests after Ctrl-C before closing them.
GRACEFUL_SHUTDOWN_SECONDS = 5
# Seconds the ingest worker gets to finish the batch in hand at shutdown.
WORKER_STOP_SECONDS = 10


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


@dataclass(frozen=True)
class StackInfo:
    """What a client needs to use the running stack; written as JSON to the info file."""

    api_url: str
    docs_url: str
    aws_endpoint_url: str
    api_key: str
    org_id: str
    table_name: str
    region: str
    data_dir: str
    lancedb_uri: str
    pid: int
    data_bucket: str = DATA_BUCKET
    ingest_queue_url: str = ""
    dead_letter_queue_url: str = ""
    backfill_queue_url: str = ""


# ---------------------------------------------------------------------------------------------
# Command line


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


# ---------------------------------------------------------------------------------------------
# Steps


def bind_api_socket(host: str, port: int) -> socket.socket:
    """Bind (and keep) the API's listening socket now, so a busy port fails before anything
    else happens, and `--port 0` knows its real port in time for the banner."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on accepted sockets whose proto
    # says TCP, and without it every keep-alive response waited ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise StackError(
            f"cannot listen on {host}:{port} ({error.strerror}); is another server running? "
            "Pass --port N or set STRATUS_PORT."
        ) from None
    return sock


def bind_api_sockets(host: str, port: int, workers: int) -> list[socket.socket]:
    """The listening socket, or with `--workers N` one per worker on the same port (see
    stratus_local.workers for why)."""
    sock = bind_api_socket(host, port)
    if workers == 1:
        return [sock]
    from stratus_local.workers import rebind_for_workers

    try:
        return rebind_for_workers(sock, workers)
    except OSError as error:
        raise StackError(
            f"cannot listen on {host}:{port} with {workers} workers ({error.strerror}); "
            "another process took the port while the stack started."
        ) from None


def lock_and_clear_data_dir(data_dir: Path) -> IO[str]:
    """Empty `data_dir` (keeping only the lock file) and return the open, flock'ed lock file;
    keep it open for the life of the stack. Refuses a non-empty directory that is not ours."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / LOCK_FILE_NAME
    if not lock_path.exists() and any(data_dir.iterdir()):
        raise StackError(
            f"{data_dir} is not empty and was not made by the local stack; refusing to wipe it. "
            "Pass an empty or new --data-dir."
        )
    lock_file = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise StackError(
            f"another local stack is using {data_dir}; stop it first or pass another --data-dir"
        ) from None
    for entry in data_dir.iterdir():
        if entry.name == LOCK_FILE_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return lock_file


def api_environment(aws_endpoint_url: str, lancedb_uri: str) -> dict[str, str]:
    """The environment the API reads (stratus.settings, prefix STRATUS_) plus what boto3 needs.
    `AWS_ENDPOINT_URL` too: any boto3 client that forgets its endpoint still lands in the
    emulator, never in a real account."""
    from stratus_local.moto_server import DUMMY_CREDENTIALS

    return {
        "STRATUS_AWS_ENDPOINT_URL": aws_endpoint_url,
        "STRATUS_TABLE_NAME": TABLE_NAME,
        "STRATUS_IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE_NAME,
        "STRATUS_DATA_BUCKET": DATA_BUCKET,
        # The extractor marks an object FAILED on its last receive: the same number as the
        # local queue's RedrivePolicy, both from the template's IngestMaxReceives.
        "STRATUS_INGEST_MAX_RECEIVES": str(ingest_max_receives()),
        "STRATUS_AWS_REGION": REGION,
        "STRATUS_LANCEDB_URI": lancedb_uri,
        "STRATUS_RATE_LIMITS": os.environ.get("STRATUS_RATE_LIMITS") or LOCAL_RATE_LIMITS,
        # The local extractor runs the Lambda handler: its JSON logs are welcome on the console,
        # its EMF metrics blobs are not, and there is no X-Ray daemon (stratus.observability).
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_ENDPOINT_URL": aws_endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **DUMMY_CREDENTIALS,
    }


# Variables that would make botocore skip the environment credentials above, sign with a real
# session (AWS_PROFILE wins over env keys in botocore's chain) or send one service elsewhere
# (AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL).
_REAL_AWS_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def apply_environment(values: dict[str, str]) -> None:
    for name in list(os.environ):
        if name in _REAL_AWS_VARIABLES or name.startswith("AWS_ENDPOINT_URL_"):
            del os.environ[name]
    os.environ.update(values)
    # The container (settings, stores) is built once per process; one built before this is stale.
    from stratus.container import reset_container

    reset_container()


def ingest_max_receives() -> int:
    """The default of the template's IngestMaxReceives (its RedrivePolicy's maxReceiveCount)."""
    from stratus_local.template import load_template

    return int(load_template()["Parameters"]["IngestMaxReceives"]["Default"])


def aws_client(aws_endpoint_url: str, service: str) -> Any:
    import boto3

    # Any: the boto3 stubs type `client()` per literal service name, and ours is a variable.
    make_client: Any = boto3.session.Session(region_name=REGION).client
    return make_client(service, endpoint_url=aws_endpoint_url)


def create_aws_resources(aws_endpoint_url: str) -> dict[str, str]:
    from stratus_local.bootstrap import create_resources

    def client_for(service: str) -> Any:
        return aws_client(aws_endpoint_url, service)

    return create_resources(
        client_for,
        {
            "MetadataTable": TABLE_NAME,
            "IdempotencyTable": IDEMPOTENCY_TABLE_NAME,
            "DataBucket": DATA_BUCKET,
            "IngestQueue": INGEST_QUEUE,
            "IngestDeadLetterQueue": DEAD_LETTER_QUEUE,
            "BackfillQueue": BACKFILL_QUEUE,
            "BackfillDeadLetterQueue": BACKFILL_DEAD_LETTER_QUEUE,
        },
    )


def queue_url(aws_endpoint_url: str, queue_name: str) -> str:
    return str(aws_client(aws_endpoint_url, "sqs").get_queue_url(QueueName=queue_name)["QueueUrl"])


def start_ingest_worker(aws_endpoint_url: str, ingest_queue_url: str) -> IngestWorker:
    """Load functions/extractor/app.py, the deployed entry point, and start feeding it the
    ingest queue. A handler that cannot be imported stops the start with its traceback."""
    from stratus_local.ingest_worker import (
        EXTRACTOR_APP,
        FunctionConfig,
        IngestWorker,
        default_pollers,
        load_handler,
    )

    try:
        handler = load_handler(EXTRACTOR_APP)
    except Exception as error:
        # The traceback matters here (an import error deep in the extractor's code), so it is
        # printed before the one-line StackError.
        traceback.print_exc()
        raise StackError(
            f"cannot load the extractor's handler from {EXTRACTOR_APP} ({type(error).__name__}: {error}); "
            "uploaded objects would never be ingested"
        ) from None
    sqs = aws_client(aws_endpoint_url, "sqs")
    config = FunctionConfig.from_template()
    return IngestWorker(sqs, ingest_queue_url, handler, config, pollers=default_pollers()).start()


def apply_backfill_environment(backfill_queue_url: str) -> None:
    """The backfill queue exists only now: point the API (and worker processes started later) at
    it, and give this process's backfill worker the local settle time."""
    os.environ["STRATUS_BACKFILL_QUEUE_URL"] = backfill_queue_url
    from stratus.container import reset_container
    from stratus.services.backfill import messages

    messages.SETTLE_SECONDS = LOCAL_BACKFILL_SETTLE_SECONDS

    reset_container()


def start_backfill_worker(aws_endpoint_url: str, backfill_queue_url: str) -> BackfillWorker:
    """Load functions/backfill/app.py, the deployed entry point, and start feeding it the
    backfill queue (services/backfill: promotion backfills, model migrations)."""
    from stratus_local.backfill_worker import (
        BACKFILL_APP,
        BackfillWorker,
        backfill_function_config,
        load_backfill_handler,
    )

    try:
        handler = load_backfill_handler()
    except Exception as error:
        traceback.print_exc()
        raise StackError(
            f"cannot load the backfill handler from {BACKFILL_APP} ({type(error).__name__}: {error}); "
            "backfills and migrations would never run"
        ) from None
    sqs = aws_client(aws_endpoint_url, "sqs")
    return BackfillWorker(sqs, backfill_queue_url, handler, backfill_function_config()).start()


def create_dev_api_key(aws_endpoint_url: str, org_id: str = DEV_ORG_ID) -> str:
    from stratus.adapters.dynamodb.store import DynamoDBMetadataStore
    from stratus.services.api_keys import create_api_key

    store = DynamoDBMetadataStore(TABLE_NAME, endpoint_url=aws_endpoint_url, region=REGION)
    plaintext, _record = create_api_key(store, org_id, DEV_KEY_NAME, list(DEV_KEY_PERMISSIONS))
    return plaintext


def write_private_file(path: Path, text: str) -> None:
    """Owner-only (0600) - the file holds an API key - and atomic (temp file + rename), so a
    reader polling for it never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # O_CREAT's mode applies only to a new file
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)


def _client_host(host: str) -> str:
    """The address a client on this machine uses for a bind address."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def banner(info: StackInfo, key_file: Path | None, info_file: Path) -> str:
    curl = " ".join(
        [
            "curl -s -X POST",
            shlex.quote(f"{info.api_url}/v1/namespaces/standalone"),
            "-H",
            shlex.quote(f"Authorization: Bearer {info.api_key}"),
            "-H",
            shlex.quote("Content-Type: application/json"),
            "-d",
            shlex.quote(json.dumps(SEED_NAMESPACE_BODY)),
        ]
    )
    key_note = f" (also in {key_file})" if key_file else ""
    lines = [
        "",
        "Stratus local stack",
        f"  API           {info.api_url}",
        f"  Docs          {info.docs_url}",
        f"  API key       {info.api_key}{key_note}",
        f"                org '{info.org_id}', permissions {', '.join(DEV_KEY_PERMISSIONS)}",
        f"  AWS endpoint  {info.aws_endpoint_url}  (moto; credentials 'testing', region {info.region})",
        f"  Data bucket   s3://{info.data_bucket}  (a new object under a bucket's s3_uri is ingested)",
        f"                aws --endpoint-url {info.aws_endpoint_url} s3 cp notes.txt "
        f"s3://{info.data_bucket}/<storage_key>/<bucket_id>/   (the bucket's s3_uri)",
        f"  Ingest queue  {info.ingest_queue_url}  (failures: {info.dead_letter_queue_url})",
        f"  Backfills     {info.backfill_queue_url}  (promotion sources, model migrations)",
        f"  Info file     {info_file}",
        "",
        f"  Data is TEMPORARY: it lives in memory and in {info.data_dir}, and is wiped at every start.",
        "",
        "  Try it:",
        f"  {curl}",
        "",
        "  Ctrl-C stops the stack.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Serving


def _uvicorn_config(options: StackOptions) -> Any:
    import uvicorn

    return uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        log_level=options.log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


class ShutdownRequest:
    """SIGINT/SIGTERM as a *request* to stop, not an exception: the start-up code runs library
    imports and calls that may swallow a KeyboardInterrupt (a signal in the wrong microsecond
    would then be lost and the stack would start anyway), so a signal only sets a flag that
    `check()` turns into a stop between steps and hooks pass on to the running server. A second
    Ctrl-C before the server runs raises KeyboardInterrupt, for a step that hangs."""

    def __init__(self) -> None:
        self.requested = False
        self._hooks: list[Callable[[], None]] = []

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        for hook in list(self._hooks):
            hook()

    def on_request(self, hook: Callable[[], None]) -> None:
        """Run `hook` when a stop is requested (at once if it already was)."""
        self._hooks.append(hook)
        if self.requested:
            hook()

    def check(self) -> None:
        if self.requested:
            raise _StopRequested

    @staticmethod
    def ignore_further_signals() -> None:
        """For the teardown: a Ctrl-C now must not leave a traceback or a half-stopped emulator."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _StopRequested(Exception):
    pass


def serve(
    options: StackOptions, config: Any, sockets: list[socket.socket], shutdown: ShutdownRequest
) -> bool:
    """Run uvicorn in the foreground until a signal; True if it served (False: start failed).
    `sockets`: one per worker (see `bind_api_sockets`)."""
    import uvicorn

    from stratus_local.workers import BalancedMultiprocess

    if options.workers > 1:
        # Each worker process imports the app afresh and talks to moto over HTTP. The
        # supervisor installs its own SIGINT/SIGTERM handlers; the hook covers a signal that
        # came just before.
        supervisor = BalancedMultiprocess(config, sockets)
        shutdown.on_request(supervisor.should_exit.set)
        supervisor.run()
        return True
    server = uvicorn.Server(config)
    # uvicorn installs its own handlers while it runs (graceful shutdown), then hands the
    # signals it caught back to ours; the hook covers a signal that came just before.
    shutdown.on_request(lambda: setattr(server, "should_exit", True))
    threading.Thread(target=_warm_up_stores, name="stratus-local-warm-up", daemon=True).start()
    # A second Ctrl-C during uvicorn's shutdown comes back to our handler as KeyboardInterrupt.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    return bool(server.started) or shutdown.requested


def _warm_up_stores() -> None:
    """Build the API's stores (importing the vector store's SDK, ~2 s for LanceDB) while the
    server already answers, instead of inside the developer's first request. Best effort: a
    failure here shows up, properly reported, on the request that needs the store.

    Then freeze what the process holds (`gc.freeze`), as a Lambda container freezes its init
    (stratus.lambda_init): moto, boto3, LanceDB and the app are a heap of long-lived objects that
    every full collection scanned, 150-190 ms each, once every dozen 1,000-document upserts
    (measured with gc.callbacks under tests/perf/bench_upsert.py's load); 15 ms after."""
    try:
        from stratus.container import get_container

        _ = get_container().vectors  # built on first use: use it once now
    except Exception:
        logger.debug("warm-up of the API's stores failed", exc_info=True)
    gc.freeze()


def run(options: StackOptions, shutdown: ShutdownRequest) -> int:
    from stratus_local.moto_server import LocalAws

    sockets = bind_api_sockets(options.host, options.port, options.workers)
    lock_file: IO[str] | None = None
    aws = LocalAws(port=options.aws_port)
    background = BackgroundWork()
    try:
        lock_file = lock_and_clear_data_dir(options.data_dir)
        config = start_services(options, aws, sockets[0], shutdown, background)
        if not serve(options, config, sockets, shutdown):
            raise StackError("the API server did not start (see the log above)")
    except (_StopRequested, KeyboardInterrupt):
        pass  # stopped while starting: a normal stop, too
    finally:
        shutdown.ignore_further_signals()
        for sock in sockets:
            sock.close()
        # Before moto: the worker's last receive and deletes go to the emulator.
        background.stop()
        aws.stop()
        if lock_file is not None:
            lock_file.close()
    print("Stratus local stack stopped.", flush=True)
    return 0


@dataclass
class BackgroundWork:
    """What the stack runs beside the API, kept where `run` can stop it whatever happens."""

    ingest_worker: IngestWorker | None = None
    backfill_worker: BackfillWorker | None = None

    def stop(self) -> None:
        worker, self.ingest_worker = self.ingest_worker, None
        if worker is not None and not worker.stop(WORKER_STOP_SECONDS):
            logger.warning("the ingest worker is still handling a batch; stopping without it")
        backfill, self.backfill_worker = self.backfill_worker, None
        if backfill is not None and not backfill.stop(WORKER_STOP_SECONDS):
            logger.warning("the backfill worker is still handling a page; stopping without it")


def start_services(
    options: StackOptions,
    aws: LocalAws,
    sock: socket.socket,
    shutdown: ShutdownRequest,
    background: BackgroundWork,
) -> Any:
    """Everything between a cleared data dir and uvicorn: the emulator, its resources, the
    environment, the ingest worker (in `background`), the dev key, the info/key files and the
    banner. Returns the uvicorn config. Stops between steps if a signal came
    (`shutdown.check()`)."""
    # Absolute: the API may resolve it from another working directory (worker processes, tools).
    lancedb_dir = options.data_dir.resolve() / "lancedb"
    lancedb_dir.mkdir()
    shutdown.check()
    aws.start()
    apply_environment(api_environment(aws.endpoint_url, str(lancedb_dir)))
    shutdown.check()
    create_aws_resources(aws.endpoint_url)
    ingest_queue_url = queue_url(aws.endpoint_url, INGEST_QUEUE)
    backfill_queue_url = queue_url(aws.endpoint_url, BACKFILL_QUEUE)
    apply_backfill_environment(backfill_queue_url)
    shutdown.check()
    background.ingest_worker = start_ingest_worker(aws.endpoint_url, ingest_queue_url)
    background.backfill_worker = start_backfill_worker(aws.endpoint_url, backfill_queue_url)
    api_url = f"http://{_client_host(options.host)}:{sock.getsockname()[1]}"
    info = StackInfo(
        api_url=api_url,
        docs_url=f"{api_url}/docs",
        aws_endpoint_url=aws.endpoint_url,
        api_key=create_dev_api_key(aws.endpoint_url),
        org_id=DEV_ORG_ID,
        table_name=TABLE_NAME,
        region=REGION,
        data_dir=str(options.data_dir),
        lancedb_uri=str(lancedb_dir),
        pid=os.getpid(),
        data_bucket=DATA_BUCKET,
        ingest_queue_url=ingest_queue_url,
        dead_letter_queue_url=queue_url(aws.endpoint_url, DEAD_LETTER_QUEUE),
        backfill_queue_url=backfill_queue_url,
    )
    info_file = options.info_file or options.data_dir / INFO_FILE_NAME
    write_private_file(info_file, json.dumps(asdict(info), indent=2) + "\n")
    if options.key_file is not None:
        write_private_file(options.key_file, info.api_key + "\n")
    shutdown.check()
    config = _uvicorn_config(options)
    if options.workers == 1:
        # Import and build the app now: a broken app fails before the banner promises a working
        # API, and the first request does not pay for the imports.
        config.load()
    shutdown.check()
    print(banner(info, options.key_file, info_file), flush=True)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    # First thing, before the heavy imports (moto, boto3, the app): from here on a Ctrl-C is a
    # clean stop whenever it comes.
    shutdown = ShutdownRequest()
    shutdown.install()
    options = parse_options(argv)
    try:
        return run(options, shutdown)
    except StackError as error:
        print(f"stratus_local: error: {error}", file=sys.stderr, flush=True)
        return 1
