"""Cold-start baseline: tests/perf/baselines/fastapi_mangum.py with the garbage collector paused
during init and init's objects frozen, as every Stratus function does (stratus/lambda_init.py).
It shows how much of a function's lead over the plain bare app is that one trick."""

import gc

gc.disable()
try:
    from fastapi import FastAPI
    from mangum import Mangum

    app = FastAPI()

    @app.get("/v1/health")
    def get_health() -> dict[str, str]:
        return {"status": "ok"}

    handler = Mangum(app, lifespan="off")
finally:
    gc.freeze()
    gc.enable()
