"""What an operator sees of a Lambda function: JSON logs, CloudWatch metrics (EMF) and X-Ray
traces, through Powertools, set up here once for the three entry points. docs/operating.md lists
every key and metric and what to alarm on.

- `logger`, the Powertools Logger named `stratus`, writes JSON lines to stdout. The modules' own
  loggers (`logging.getLogger(__name__)`, all under `stratus.`) propagate to it, so their lines
  are JSON too and carry the invocation's keys: service, stage, operation, the Lambda context
  (cold_start, function_request_id, ...) and the correlation id.
- `entrypoint(...)` wraps a handler: the Logger's Lambda context, one summary line, the
  invocation's metrics flushed as one EMF blob (dimensions service, stage, operation) and, when
  tracing is on, an X-Ray subsegment.
- `count(name, value)` adds to the running invocation's metrics. Outside an invocation (uvicorn,
  tests through TestClient) it does nothing, so nothing accumulates in a long-lived process.
- `traced(adapter, component, settings)` puts an X-Ray subsegment around each call of a port's
  methods; the container applies it where it builds the adapters.

Only ids, counts, statuses, durations and exception *types* are logged, measured or traced: never
an API key, a payload, a vector, a secret, or an exception's message (a library's message may
quote the data it choked on).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from stratus.errors import StratusError

if TYPE_CHECKING:
    from stratus.settings import Settings

T = TypeVar("T")
R = TypeVar("R")
Handler = Callable[[Any, Any], Any]

# The service of every log line and metric (template.yaml's POWERTOOLS_SERVICE_NAME says the
# same; a test holds the two equal). It is also the Logger's name: the `stratus.*` module loggers
# reach its JSON handler because they are its children.
SERVICE = "stratus"
DEFAULT_METRICS_NAMESPACE = "Stratus"

logger = Logger(service=SERVICE)
metrics = Metrics(
    service=SERVICE,
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE,
)

COUNT = "Count"
MILLISECONDS = "Milliseconds"


@dataclass
class Invocation:
    """What one invocation measured: metrics (name -> unit, value) and the summary line."""

    operation: str
    metrics: dict[str, tuple[str, float]] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)  # extra keys of the summary line
    summary: str = ""

    def add(self, name: str, value: float, unit: str = COUNT) -> None:
        self.metrics[name] = (unit, self.metrics.get(name, (unit, 0.0))[1] + value)

    def value(self, name: str) -> float | None:
        found = self.metrics.get(name)
        return None if found is None else found[1]


_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("invocation", default=None)


def current() -> Invocation | None:
    """The running Lambda invocation, or None (uvicorn, TestClient, scripts)."""
    return _current.get()


def count(name: str, value: float = 1) -> None:
    """Add `value` to the running invocation's metric `name` (a Count); no-op outside one."""
    invocation = _current.get()
    if invocation is not None:
        invocation.add(name, value)


# ---------------------------------------------------------------------------------------------
# Entry points


def entrypoint(
    operation: str,
    *,
    count_metric: str,
    error_metric: str = "Errors",
    correlation_id_path: str | None = None,
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda handler. Every invocation gets `count_metric` 1, `Latency`, `error_metric`
    (1 if the handler raised, else whatever the handler recorded, else 0) and `ColdStart` 1 on a
    cold start, plus what the handler added through `current()` / `count()`."""

    def wrap(handler: Handler) -> Handler:
        with_context: Handler = logger.inject_lambda_context(
            handler, correlation_id_path=correlation_id_path, log_event=False
        )

        @functools.wraps(handler)
        def run(event: Any, context: Any) -> Any:
            settings = _settings()
            logger.append_keys(stage=settings.stage, operation=operation)
            invocation = Invocation(operation)
            invocation.add(count_metric, 1)
            token = _current.set(invocation)
            started = time.perf_counter()
            error: Exception | None = None
            try:
                # Tests and local scripts may pass no context; Powertools needs one.
                call = with_context if context is not None else handler
                return _call_traced(operation, settings, call, event, context)
            except Exception as raised:
                error = raised
                invocation.add(error_metric, 1)
                raise
            finally:
                _current.reset(token)
                latency_ms = (time.perf_counter() - started) * 1000.0
                _finish(invocation, settings, latency_ms, error, context, error_metric)

        return run

    return wrap


def _settings() -> Settings:
    from stratus.container import get_container

    return get_container().settings


def _finish(
    invocation: Invocation,
    settings: Settings,
    latency_ms: float,
    error: Exception | None,
    context: Any,
    error_metric: str,
) -> None:
    invocation.metrics.setdefault(error_metric, (COUNT, 0.0))
    invocation.add("Latency", latency_ms, MILLISECONDS)
    # The Logger's flag (set by inject_lambda_context): one notion of "cold" for logs and metrics.
    if context is not None and logger.get_current_keys().get("cold_start") is True:
        invocation.add("ColdStart", 1)
    extra = {"latency_ms": round(latency_ms, 1), **invocation.fields}
    if error is None:
        logger.info(invocation.summary or f"{invocation.operation} done", extra=extra)
    else:
        log_unexpected(error, f"{invocation.operation} failed", extra)
    publish(invocation, settings.stage)


def publish(invocation: Invocation, stage: str) -> None:
    """The invocation's metrics as one EMF blob on stdout (CloudWatch turns it into metrics), unless
    POWERTOOLS_METRICS_DISABLED (or POWERTOOLS_DEV) says not to. A failure here never fails the
    invocation."""
    if is_metrics_disabled() or not invocation.metrics:
        return
    try:
        metrics.add_dimension(name="stage", value=stage)
        metrics.add_dimension(name="operation", value=invocation.operation)
        for name, (unit, value) in invocation.metrics.items():
            metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()
    except Exception as error:
        logger.warning("metrics not published", extra={"error_type": _type_name(error)})
    finally:
        metrics.clear_metrics()


def log_unexpected(
    exc: BaseException, message: str = "unhandled error", extra: dict[str, Any] | None = None
) -> None:
    """Log a failure for operators: the exception types of its chain and where each was raised,
    never their messages (payloads, vectors and keys never reach the logs:
    tests/security/test_no_secrets_in_logs.py)."""
    chain: list[BaseException] = []
    current_exc: BaseException | None = exc
    while current_exc is not None and all(current_exc is not seen for seen in chain):
        chain.append(current_exc)
        current_exc = current_exc.__cause__ or (
            None if current_exc.__suppress_context__ else current_exc.__context__
        )
    logger.error(
        message,
        extra={
            **(extra or {}),
            "error_types": [_type_name(e) for e in chain],
            "stack": [
                "".join(traceback.format_list(traceback.extract_tb(e.__traceback__))).rstrip() for e in chain
            ],
        },
    )


def _type_name(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


# ---------------------------------------------------------------------------------------------
# Tracing (X-Ray, through Powertools' Tracer): imported only when it is on


def tracing_active(settings: Settings) -> bool:
    """STRATUS_TRACING is on, this is a Lambda function (not `sam local`), and
    POWERTOOLS_TRACE_DISABLED does not switch it off: the conditions of Powertools' Tracer, read
    here so that the X-Ray SDK is not even imported when they fail."""
    env = os.environ
    switched_off = env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in _TRUTHY
    on_lambda = bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL")
    return settings.tracing and on_lambda and not switched_off


_TRUTHY = ("1", "true", "t", "yes", "y", "on")


class Tracing:
    """Subsegments through the Tracer's X-Ray recorder. Annotations are names, ids and types only;
    an error marks the subsegment (fault, or error for a 4xx) with its type, never its message."""

    def __init__(self) -> None:
        from aws_lambda_powertools import Tracer

        # auto_patch off: patching botocore and the HTTP clients would trace every SDK call
        # (with its parameters); the stores and embedders are traced by `traced` instead.
        self.tracer = Tracer(service=SERVICE, auto_patch=False)
        self._recorder: Any = self.tracer.provider

    @contextmanager
    def segment(self, name: str, **annotations: str | bool | int) -> Iterator[Callable[[str, Any], None]]:
        subsegment = self._recorder.begin_subsegment(name)

        def annotate(key: str, value: Any) -> None:
            if subsegment is not None:
                subsegment.put_annotation(key, value)

        for key, value in annotations.items():
            annotate(key, value)
        try:
            yield annotate
        except Exception as error:
            if subsegment is not None:
                client_error = isinstance(error, StratusError) and error.status < 500
                subsegment.add_error_flag() if client_error else subsegment.add_fault_flag()
                annotate("error_type", _type_name(error))
            raise
        finally:
            if subsegment is not None:
                self._recorder.end_subsegment()

    def wrap(self, name: str, method: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> R:
            with self.segment(name):
                return method(*args, **kwargs)

        return call


_tracing_lock = threading.Lock()
_tracing: Tracing | None = None


def tracing(settings: Settings) -> Tracing | None:
    """The process's `Tracing` when tracing is active, built (the X-Ray SDK imported) on first use."""
    global _tracing
    if not tracing_active(settings):
        return None
    if _tracing is None:
        with _tracing_lock:
            if _tracing is None:
                _tracing = Tracing()
    return _tracing


def _call_traced(operation: str, settings: Settings, call: Handler, event: Any, context: Any) -> Any:
    active = tracing(settings)
    if active is None:
        return call(event, context)
    with active.segment(f"## {operation}", operation=operation, stage=settings.stage) as annotate:
        response = call(event, context)
        annotate("ColdStart", logger.get_current_keys().get("cold_start") is True)
        return response


# Port methods that do no I/O: not worth a subsegment.
UNTRACED_METHODS = frozenset({"locator"})


def port_methods(port: type) -> list[str]:
    """The public methods (not properties) a port protocol declares, its bases' included."""
    names = {
        name
        for klass in port.__mro__
        if klass is not object and klass.__module__ != "typing"
        for name, value in vars(klass).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    return sorted(names - UNTRACED_METHODS)


def _ports() -> dict[str, type]:
    from stratus.ports import BlobStore, Embedder, MetadataStore, UrlFetcher, VectorStore

    return {
        "metadata": MetadataStore,
        "vectors": VectorStore,
        "blobs": BlobStore,
        "fetcher": UrlFetcher,
        "embedder": Embedder,
    }


def traced(adapter: T, component: str, settings: Settings) -> T:
    """`adapter` with an X-Ray subsegment (`<component>.<method>`) around each method of its port
    (`component` names it: metadata, vectors, blobs, fetcher, embedder). Unchanged when tracing is
    not active. The methods are replaced on the instance, so its type stays what it was."""
    active = tracing(settings)
    if active is None:
        return adapter
    for name in port_methods(_ports()[component]):
        method = getattr(adapter, name, None)
        if callable(method):
            setattr(adapter, name, active.wrap(f"{component}.{name}", method))
    return adapter
