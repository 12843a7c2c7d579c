"""The Pinecone clients of one API key, and every call through them: retried on what may pass,
run concurrently where a call is split, and turned into the error the caller should see."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar, cast

from stratus.adapters.pinecone.failures import classify, failure_error, retry_delay, unavailable_store
from stratus.errors import StratusError
from stratus.ports import Space

if TYPE_CHECKING:
    from pinecone import Pinecone
    from pinecone.index import Index

T = TypeVar("T")


class PineconeClients:
    """The control-plane client and one data-plane client per host, for one API key."""

    def __init__(self, api_key: str, control: Pinecone) -> None:
        self.api_key = api_key
        self.control = control
        self._indexes: dict[str, Index] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, api_key: str, control_plane_host: str | None, timeout: float) -> PineconeClients:
        from pinecone import Pinecone, RetryConfig
        from pinecone.errors.exceptions import PineconeError

        try:
            control = Pinecone(
                api_key=api_key,
                host=control_plane_host,
                timeout=timeout,
                retry_config=RetryConfig(max_retries=0),  # retries are ours (`PineconeCalls.call`)
                source_tag="stratus",
            )
        except PineconeError as exc:
            raise unavailable_store(
                "the client could not be configured "
                f"({type(exc).__name__}: check the API key and the control-plane host)"
            ) from None
        return cls(api_key, control)

    def index(self, host: str) -> Index:
        with self._lock:
            index = self._indexes.get(host)
            if index is None:
                index = self._indexes[host] = _without_sdk_retries(self.control.index(host=host))
            return index

    def close(self) -> None:
        with self._lock:
            indexes, self._indexes = list(self._indexes.values()), {}
        for index in indexes:
            index.close()
        self.control.close()


def _without_sdk_retries(index: Index) -> Index:
    """The client retries data-plane REST calls itself (3 times, with its own wall-clock sleeps)
    and offers no setting for it. Swap in a transport without retries so that `PineconeCalls`
    is the one policy: `max_attempts`, `sleep` and the "confirmed records" of a failed upsert stay
    exact. If a future client is laid out differently, its own retries stay (slower to give up,
    still right)."""
    try:
        from dataclasses import replace

        from pinecone import RetryConfig
        from pinecone._internal.constants import DATA_PLANE_API_VERSION
        from pinecone._internal.http_client import HTTPClient

        config = replace(index._config, retry_config=RetryConfig(max_retries=0))
        http = HTTPClient(config, DATA_PLANE_API_VERSION)
        previous, index._http = index._http, http
    except (ImportError, AttributeError, TypeError):
        return index
    previous.close()
    return index


class PineconeCalls:
    """Thread-safe. `api_key_provider` is called on every operation (cheap: see
    `stratus.adapters.secrets`); a changed key rebuilds the clients. `on_missing_pool` is told
    when a pool's host answers 404 (the pool was deleted behind our back)."""

    def __init__(
        self,
        api_key_provider: Callable[[], str],
        control_plane_host: str | None,
        timeout_seconds: float,
        max_attempts: int,
        max_concurrency: int,
        sleep: Callable[[float], None],
        on_missing_pool: Callable[[Space], None],
    ) -> None:
        self._key_provider = api_key_provider
        self._control_plane_host = control_plane_host
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._max_concurrency = max_concurrency
        self._sleep = sleep
        self._on_missing_pool = on_missing_pool
        self._lock = threading.Lock()
        self._clients: PineconeClients | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- clients -----------------------------------------------------------------------------------

    def control(self) -> Pinecone:
        return self._current_clients().control

    def index(self, host: str) -> Index:
        return self._current_clients().index(host)

    def _current_clients(self) -> PineconeClients:
        key = self._api_key()
        with self._lock:
            current = self._clients
            # Constant time, as every comparison of a secret (tests/security/test_api_keys_at_rest.py).
            if current is None or not hmac.compare_digest(current.api_key.encode(), key.encode()):
                # A rotated key: new clients. The old ones are left to the garbage collector, not
                # closed, since another thread may be in the middle of a call with them.
                current = self._clients = PineconeClients.build(key, self._control_plane_host, self._timeout)
            return current

    def _api_key(self) -> str:
        try:
            key = self._key_provider()
        except StratusError as exc:
            # The secrets helper speaks of inference services; say which store is affected.
            raise unavailable_store(exc.message.split(" is unavailable: ", 1)[-1], exc.details) from None
        if not key or not key.strip():
            raise unavailable_store("its API key is empty")
        return key.strip()

    def close(self) -> None:
        """Release connections and threads (tests; a Lambda container just ends)."""
        with self._lock:
            clients, self._clients = self._clients, None
            executor, self._executor = self._executor, None
        if clients is not None:
            clients.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- calls -------------------------------------------------------------------------------------

    def call(self, operation: str, space: Space, fn: Callable[[], T]) -> T:
        """`fn()` with retries on what may pass (429, 5xx, timeouts, connection errors); every
        other failure of Pinecone becomes the error the caller should see."""
        attempt = 1
        while True:
            try:
                return fn()
            except StratusError:
                raise
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise  # a programming error: a 500 with its traceback in the logs
                if failure.status == 404:
                    # Missing namespaces are handled where they can occur: this is the pool itself,
                    # deleted behind our back. Describe it again (or recreate it) next time.
                    self._on_missing_pool(space)
                delay = retry_delay(attempt, failure, self._max_attempts)
                if delay is None:
                    raise failure_error(operation, space.name, failure, attempt) from exc
                self._sleep(delay)
                attempt += 1

    def run_all(self, tasks: list[Callable[[], T]]) -> list[T]:
        results, error = self.settle(tasks)
        if error is not None:
            raise error
        return cast(list[T], results)  # every task ran and returned

    def settle(self, tasks: list[Callable[[], T]]) -> tuple[list[T | None], BaseException | None]:
        """Run `tasks` (at most `max_concurrency` at once); after the first failure nothing new
        starts. Each task's result (None if it failed or never ran) and the first error."""
        if len(tasks) <= 1:
            try:
                return [task() for task in tasks], None
            except Exception as exc:
                return [None], exc
        executor = self._executor_for_batches()
        futures: list[Future[T]] = [executor.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()  # only the ones not started yet
        wait(futures)
        results: list[T | None] = []
        error: BaseException | None = None
        for future in futures:
            if future.cancelled():
                results.append(None)
            elif (raised := future.exception()) is not None:
                results.append(None)
                error = error or raised
            else:
                results.append(future.result())
        return results, error

    def _executor_for_batches(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._max_concurrency, thread_name_prefix="stratus-pinecone"
                )
            return self._executor


def bind(fn: Callable[[Any], T], argument: Any) -> Callable[[], T]:
    """`fn(argument)`, to run later (a task of `PineconeCalls.run_all`)."""
    return lambda: fn(argument)
