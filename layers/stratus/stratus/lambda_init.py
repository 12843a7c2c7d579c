"""A Lambda function's init phase with the cyclic garbage collector paused.

Init (importing FastAPI, pydantic, Powertools and the layer, building the app) allocates ~86,000
objects that live as long as the container, and almost no garbage (~700 objects in cycles). The
collector does not know that: it runs ~120 collections over them while they are being created,
including a full one once the heap passes its threshold: 50-60 ms of a 500 ms cold start for
an HTTP function, measured in tests/perf/cold_start.py. Pausing it for init skips that work.

On Lambda the objects init made are then frozen (`gc.freeze`): moved to a generation the
collector never scans, so the first requests do not pay to scan them either, and neither does
any later full collection. The price is that the few hundred garbage objects init left behind
are never reclaimed. Off Lambda (tests, scripts importing a handler), the collector is only
paused and resumed: freezing a test process would keep its later garbage alive too.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

# Set by the Lambda runtime (and by `sam local`'s emulator) in every function's environment.
RUNTIME_API_VARIABLE = "AWS_LAMBDA_RUNTIME_API"


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block (a handler module's imports and app construction) without collections."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if os.environ.get(RUNTIME_API_VARIABLE):
            gc.freeze()
        if was_enabled:
            gc.enable()
