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

Its parts: `options` (the command line), `data_dir` (the lock and the private files),
`resources` (the local AWS resources, the API's environment, the dev key), `banner` (the info
file and the banner), `moto_server`, `ingest_worker` / `backfill_worker`, `workers` (uvicorn's
worker processes).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratus_local.backfill_worker import BackfillWorker
    from stratus_local.ingest_worker import IngestWorker
    from stratus_local.moto_server import LocalAws

from stratus_local.banner import StackInfo, banner, client_host
from stratus_local.data_dir import lock_and_clear_data_dir, write_private_file
from stratus_local.options import INFO_FILE_NAME, StackError, StackOptions, parse_options
from stratus_local.resources import (
    BACKFILL_QUEUE,
    DATA_BUCKET,
    DEAD_LETTER_QUEUE,
    DEV_ORG_ID,
    INGEST_QUEUE,
    REGION,
    TABLE_NAME,
    api_environment,
    apply_backfill_environment,
    apply_environment,
    aws_client,
    create_aws_resources,
    create_dev_api_key,
    queue_url,
)

logger = logging.getLogger("stratus_local")

APP_FACTORY = "stratus.api.app:create_full_app"
# Seconds uvicorn waits for in-flight requests after Ctrl-C before closing them.
GRACEFUL_SHUTDOWN_SECONDS = 5
# Seconds the ingest worker gets to finish the batch in hand at shutdown.
WORKER_STOP_SECONDS = 10


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
    api_url = f"http://{client_host(options.host)}:{sock.getsockname()[1]}"
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
