"""Cold-start baseline: the same one-route app on aws-lambda-powertools' own resolver for HTTP
API (payload v2) events, no ASGI framework. tests/perf/cold_start.py sends it
tests/events/health.json."""

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()


@app.get("/v1/health")
def get_health() -> dict[str, str]:
    return {"status": "ok"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
