"""Lambda entry point of the `get_object` operation:
GET /v1/buckets/{bucket_id}/objects/{object_id}
"""

from mangum import Mangum

from stratus.api.app import create_app
from stratus.api.operations import OPERATIONS

app = create_app(OPERATIONS["get_object"])
# The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no lifespan
# because the app starts nothing (clients are created lazily and cached per container).
handler = Mangum(app, lifespan="off")
