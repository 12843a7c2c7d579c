"""DynamoDB faults injected on the wire of one botocore client.

A `before-send` handler registered for one operation answers *instead of* DynamoDB, so everything
above the socket runs as in production: the client's standard-mode retries and backoff, the
idempotency token botocore puts on `TransactWriteItems`, and the adapter's error mapping.

    faults = DynamoFaults(store.client, sender=boto3.client("dynamodb", ...))
    faults.throttle("TransactWriteItems", times=2)                 # 400 ThrottlingException x2
    faults.cancel("TransactWriteItems", ["TransactionConflict", "None"])
    faults.lose_answers("TransactWriteItems", times=1)   # reaches DynamoDB, the answer never comes

`lose_answers` sends the request for real through `sender` (an independent client on the same
endpoint, with the request's own parameters, idempotency token included), throws the answer away
and raises `ReadTimeoutError`, which is what the SDK sees when a response is lost in flight.

botocore calls *every* `before-send` handler and takes the first answer, so under moto the stub
would still run (and write) after a fault answered. While a `DynamoFaults` is attached it takes
moto's stub off this one client and calls it itself for the requests it does not fault; against a
real endpoint (DynamoDB Local) the stub is idle and the request goes out over HTTP as usual.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError

Body = dict[str, Any]
Predicate = Callable[[Body], bool]

_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class _RawBody:
    """What `AWSResponse.content` reads from (urllib3's `stream()`)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


@dataclass
class _Fault:
    remaining: float  # math.inf: until `clear()`
    kind: str  # "error" | "lose"
    when: Predicate | None
    status: int = 400
    body: Body | None = None


class DynamoFaults:
    def __init__(self, client: Any, sender: Any | None = None) -> None:
        self._client = client
        self._sender = sender
        self._lock = threading.Lock()
        self._faults: dict[str, deque[_Fault]] = {}
        self._moto_stub = _moto_stub()
        if self._moto_stub is not None:
            client.meta.events.unregister("before-send", self._moto_stub)
        client.meta.events.register("before-send.dynamodb", self._before_send)
        self.attempts: Counter[str] = Counter()  # requests the SDK tried to send, per operation
        self.injected: Counter[str] = Counter()  # of those, answered by a fault
        self.delivered: list[tuple[str, int]] = []  # (operation, status) of lost answers' real sends

    # -- faults ------------------------------------------------------------------------------

    def throttle(
        self,
        operation: str,
        times: float,
        code: str = "ThrottlingException",
        status: int = 400,
        when: Predicate | None = None,
    ) -> None:
        """An error answer (`code` with `status`) for the next `times` matching requests."""
        body = {"__type": _ERROR_PREFIX + code, "message": f"{code} (injected by the fault test)"}
        self._add(operation, _Fault(times, "error", when, status, body))

    def cancel(
        self, operation: str, reasons: Sequence[str], times: float = 1, when: Predicate | None = None
    ) -> None:
        """`TransactionCanceledException` with one cancellation reason code per item."""
        body = {
            "__type": _ERROR_PREFIX + "TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{', '.join(reasons)}]",
            "CancellationReasons": [
                {"Code": code} if code == "None" else {"Code": code, "Message": f"{code} (injected)"}
                for code in reasons
            ],
        }
        self._add(operation, _Fault(times, "error", when, 400, body))

    def lose_answers(self, operation: str, times: float, when: Predicate | None = None) -> None:
        """The next `times` matching requests reach DynamoDB but their answers are lost."""
        if self._sender is None:
            raise ValueError("lose_answers needs a sender client to deliver the requests")
        self._add(operation, _Fault(times, "lose", when))

    def clear(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def close(self) -> None:
        """Detach: the client talks to DynamoDB (or moto) directly again."""
        self._client.meta.events.unregister("before-send.dynamodb", self._before_send)
        if self._moto_stub is not None:
            self._client.meta.events.register("before-send", self._moto_stub)
            self._moto_stub = None

    # -- plumbing ----------------------------------------------------------------------------

    def _add(self, operation: str, fault: _Fault) -> None:
        with self._lock:
            self._faults.setdefault(operation, deque()).append(fault)

    def _take(self, operation: str, body: Body) -> _Fault | None:
        with self._lock:
            self.attempts[operation] += 1
            queue = self._faults.get(operation, deque())
            for fault in queue:
                if fault.remaining > 0 and (fault.when is None or fault.when(body)):
                    fault.remaining -= 1
                    self.injected[operation] += 1
                    return fault
            return None

    def _before_send(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        body: Body = json.loads(request.body or b"{}")
        fault = self._take(operation, body)
        if fault is None:  # on to moto's stub, or (None) to DynamoDB over HTTP
            return None if self._moto_stub is None else self._moto_stub(event_name, request, **kwargs)
        if fault.kind == "lose":
            self._deliver(operation, body)
            raise ReadTimeoutError(endpoint_url=request.url)
        payload = json.dumps(fault.body).encode()
        headers = HTTPHeaders()
        headers["x-amzn-RequestId"] = "fault-test"
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, fault.status, headers, _RawBody(payload))

    def _deliver(self, operation: str, body: Body) -> None:
        from botocore.exceptions import ClientError

        assert self._sender is not None
        try:
            response = getattr(self._sender, xform_name(operation))(**body)
            status = int(response["ResponseMetadata"]["HTTPStatusCode"])
        except ClientError as error:
            status = int(error.response["ResponseMetadata"]["HTTPStatusCode"])
        with self._lock:
            self.delivered.append((operation, status))


def _moto_stub() -> Any | None:
    """moto's `before-send` stub, if moto is installed (it is idle unless a mock is active)."""
    try:
        from moto.core.models import botocore_stubber
    except ImportError:
        return None
    return botocore_stubber
