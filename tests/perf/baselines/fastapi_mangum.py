"""Cold-start baseline: the smallest FastAPI app behind Mangum, one route, as a Stratus function
is built (`create_app(router)` + `Mangum(app, lifespan="off")`) but with nothing of Stratus.
tests/perf/cold_start.py sends it tests/events/health.json."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/v1/health")
def get_health() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
