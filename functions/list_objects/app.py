"""Lambda entry point of the `list_objects` operation:
GET /v1/buckets/{bucket_id}/objects
"""

from mangum import Mangum

from stratus.api.app import create_app
from stratus.api.operations import OPERATIONS

app = create_app(OPERATIONS["list_objects"])
# The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no lifespan
# because the app starts nothing (clients are created lazily and cached per container).
handler = Mangum(app, lifespan="off")
