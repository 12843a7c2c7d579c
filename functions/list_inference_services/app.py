"""Lambda entry point of the `list_inference_services` operation:
GET /v1/inference/services
"""

from mangum import Mangum

from stratus.api.app import create_app
from stratus.api.operations import OPERATIONS

app = create_app(OPERATIONS["list_inference_services"])
# The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no lifespan
# because the app starts nothing (clients are created lazily and cached per container).
handler = Mangum(app, lifespan="off")
