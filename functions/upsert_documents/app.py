"""Lambda entry point of the `upsert_documents` operation:
POST /v1/namespaces/{namespace_identifier}/documents/direct
POST /v1/namespaces/{namespace_identifier}/documents/upsert
"""

from mangum import Mangum

from stratus.api.app import create_app
from stratus.api.operations import OPERATIONS

app = create_app(OPERATIONS["upsert_documents"])
# The HTTP API's `$default` stage adds no path prefix, so Mangum needs no base path; no lifespan
# because the app starts nothing (clients are created lazily and cached per container).
handler = Mangum(app, lifespan="off")
