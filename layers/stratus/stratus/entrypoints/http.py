"""The Lambda handler of one HTTP operation: what every `functions/<op>/app.py` exports. Mangum
serves the operation's FastAPI app; `stratus.observability` adds the Logger context (the API
Gateway request id as correlation id), the metrics and, when on, the trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stratus.lambda_init import collector_paused

if TYPE_CHECKING:
    from mangum import Mangum

    from stratus.observability import Invocation

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class HttpFunction:
    """`handler` of an HTTP function: `mangum` (the operation's app behind Mangum) called through
    `observability.entrypoint`, whose decorator `observe` is."""

    def __init__(self, operation: str, mangum: Mangum, observe: Callable[[Handler], Handler]) -> None:
        self.operation = operation
        self.mangum = mangum
        self._observed = observe(self._serve)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self._observed(event, context)

    def _serve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from stratus.observability import current

        response = dict(self.mangum(event, context))
        invocation = current()
        if invocation is not None:
            record_status(invocation, event, int(response["statusCode"]))
        return response


def http_handler(operation: str) -> HttpFunction:
    """A FastAPI app serving only `operation`'s routes, behind Mangum, observed. Imports happen
    here, with the garbage collector paused (stratus.lambda_init), since they are most of a cold
    start."""
    with collector_paused():
        from aws_lambda_powertools.logging.correlation_paths import API_GATEWAY_HTTP
        from mangum import Mangum

        from stratus import observability
        from stratus.api.app import create_app
        from stratus.api.operations import OPERATIONS

        # The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no
        # lifespan because the app starts nothing (clients are created lazily, cached per container).
        app = Mangum(create_app(OPERATIONS[operation]), lifespan="off")
        observe = observability.entrypoint(
            operation, count_metric="Requests", error_metric="Errors5xx", correlation_id_path=API_GATEWAY_HTTP
        )
        return HttpFunction(operation, app, observe)


def record_status(invocation: Invocation, event: dict[str, Any], status: int) -> None:
    """`Errors4xx` and `Errors5xx` as 0 or 1 (their average is the rate), and the summary line:
    the route template (never the raw path or query string) and the status."""
    invocation.add("Errors4xx", 1 if 400 <= status < 500 else 0)
    invocation.add("Errors5xx", 1 if status >= 500 else 0)
    route = str(event.get("routeKey") or "-")
    invocation.fields.update(route=route, status=status)
    invocation.summary = f"{route} {status}"
