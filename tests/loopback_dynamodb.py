"""A loopback HTTP server answering DynamoDB's JSON protocol with a plain key-value store, for
fresh-process runs of a Lambda handler (tests/perf/cold_start.py, tests/unit/test_lazy_imports.py):
a function's first request needs *some* DynamoDB to talk to, and these must not depend on a
running stack (moto would add its own start-up and per-call cost, and in-process moto would sit
in the measured process's `sys.modules`).

It is a stand-in, not an emulator: items are kept by (table, PK, SK); `PutItem`, `DeleteItem`,
`GetItem`, `BatchGetItem` and the `Put`/`Delete` parts of `TransactWriteItems` work, condition
and update expressions are ignored (`UpdateItem` answers success and changes nothing), and
`Query`/`Scan` answer no items. That is enough to seed an API key and a namespace through the
real adapter (`DynamoDBMetadataStore`, so the wire format is the adapter's own) and to serve the
reads of a first request. Every call is counted per operation, so a benchmark can report what a
request touched.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Item = dict[str, Any]
_TARGET_PREFIX = "DynamoDB_20120810."


def _key_of(table: str, key: Item) -> tuple[str, str, str]:
    return (table, json.dumps(key.get("PK"), sort_keys=True), json.dumps(key.get("SK"), sort_keys=True))


class DynamoDBStub:
    """`with DynamoDBStub() as stub:` serves on `stub.url` (127.0.0.1, a free port)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], Item] = {}
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> DynamoDBStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                operation = (self.headers.get("X-Amz-Target") or "").removeprefix(_TARGET_PREFIX)
                raw = json.dumps(stub.answer(operation, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DynamoDBStub:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- counters ----------------------------------------------------------------------------

    def calls(self) -> Counter[str]:
        with self._lock:
            return Counter(self._calls)

    # -- the protocol ------------------------------------------------------------------------

    def answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._calls[operation] += 1
            table = str(body.get("TableName", ""))
            if operation == "GetItem":
                item = self._items.get(_key_of(table, body.get("Key", {})))
                return {"Item": item} if item is not None else {}
            if operation == "PutItem":
                self._items[_key_of(table, body["Item"])] = body["Item"]
                return {}
            if operation == "DeleteItem":
                self._items.pop(_key_of(table, body.get("Key", {})), None)
                return {}
            if operation == "BatchGetItem":
                responses: dict[str, list[Item]] = {}
                for name, request in body.get("RequestItems", {}).items():
                    found = (self._items.get(_key_of(name, key)) for key in request.get("Keys", []))
                    responses[name] = [item for item in found if item is not None]
                return {"Responses": responses, "UnprocessedKeys": {}}
            if operation == "TransactWriteItems":
                for action in body.get("TransactItems", []):
                    if "Put" in action:
                        put = action["Put"]
                        self._items[_key_of(put["TableName"], put["Item"])] = put["Item"]
                    elif "Delete" in action:
                        delete = action["Delete"]
                        self._items.pop(_key_of(delete["TableName"], delete["Key"]), None)
                return {}
            if operation in ("Query", "Scan"):
                return {"Items": [], "Count": 0, "ScannedCount": 0}
            return {}  # UpdateItem, DescribeTable, ...: success, nothing changes
