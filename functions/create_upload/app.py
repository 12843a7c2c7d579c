"""Lambda entry point of the `create_upload` operation:
POST /v1/buckets/{bucket_id}/uploads
"""

from mangum import Mangum

from stratus.api.app import create_app
from stratus.api.operations import OPERATIONS

app = create_app(OPERATIONS["create_upload"])
# The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no lifespan
# because the app starts nothing (clients are created lazily and cached per container).
handler = Mangum(app, lifespan="off")
