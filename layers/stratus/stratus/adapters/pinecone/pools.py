"""Pools: one serverless index per (dimension, metric), named `{prefix}-{dimension}-{metric}`,
created on first write (once per process whatever the number of threads) and their hosts cached."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.pinecone.client import PineconeCalls, bind
from stratus.adapters.pinecone.failures import ignore_not_found
from stratus.errors import ConflictError, VectorStoreUnavailableError
from stratus.models.namespaces import Metric
from stratus.ports import Space

if TYPE_CHECKING:
    from pinecone.models.indexes.index import IndexModel

METRIC_NAMES: dict[Metric, str] = {"cosine": "cosine", "dot": "dotproduct", "euclidean": "euclidean"}
# The one dense field of an index created with a dimension and a metric (what the vector API uses).
VALUES_FIELD = "_values"
# Waits between describes of a new pool (about 20 s in all); then a retryable 503.
_READY_POLL_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0)
_POOL_INITIALIZING_RETRY_AFTER = 5


def check_prefix(prefix: str) -> None:
    # Pool names are 1-45 characters of [a-z0-9-]; the longest suffix is "-20000-dotproduct".
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    if not prefix or len(prefix) > 28 or not set(prefix) <= allowed or prefix[0] == "-" or prefix[-1] == "-":
        raise ValueError(
            f"index prefix {prefix!r} must be 1-28 characters of lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )


class Pools:
    """Thread-safe. Reading a space whose pool does not exist reads an empty space (`host` with
    `create=False` answers None)."""

    def __init__(
        self, calls: PineconeCalls, prefix: str, cloud: str, region: str, sleep: Callable[[float], None]
    ) -> None:
        self._calls = calls
        self._prefix = prefix
        self._cloud = cloud
        self._region = region
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, str] = {}  # pool name → data-plane host, once ready
        self._pool_locks: dict[str, threading.Lock] = {}
        self._dimension_checked: set[tuple[str, int]] = set()  # (space, dimension) checked

    def name(self, space: Space) -> str:
        return f"{self._prefix}-{space.dimension}-{METRIC_NAMES[space.metric]}"

    def host(self, space: Space, create: bool) -> str | None:
        """The data-plane host of the space's pool (created if `create`); None if it is missing."""
        name = self.name(space)
        host = self._hosts.get(name)
        if host is not None:
            return host
        with self._pool_lock(name):  # one describe/create per pool, whatever the number of threads
            host = self._hosts.get(name)
            if host is None:
                host = self._resolve(name, space, create)
                if host is not None:
                    self._hosts[name] = host
            return host

    def created_host(self, space: Space) -> str:
        host = self.host(space, create=True)
        assert host is not None, "a pool created or found has a host"
        return host

    def forget(self, space: Space) -> None:
        """After a 404 from a pool's host: the pool was deleted; describe (or recreate) it again."""
        self._hosts.pop(self.name(space), None)

    def forget_space(self, space: Space) -> None:
        """A dropped space may come back with another dimension: check it again."""
        with self._lock:
            self._dimension_checked = {key for key in self._dimension_checked if key[0] != space.name}

    def _pool_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._pool_locks.setdefault(name, threading.Lock())

    def _resolve(self, name: str, space: Space, create: bool) -> str | None:
        model = self._describe(name, space)
        if model is None:
            if not create:
                return None
            model = self._create(name, space)
        _check_pool(model, name, space)
        return self._wait_until_ready(name, space, model)

    def _describe(self, name: str, space: Space) -> IndexModel | None:
        control = self._calls.control()
        return self._calls.call(
            "describe_index", space, lambda: ignore_not_found(lambda: control.indexes.describe(name))
        )

    def _create(self, name: str, space: Space) -> IndexModel:
        control = self._calls.control()
        schema = {
            "fields": {
                VALUES_FIELD: {
                    "type": "dense_vector",
                    "dimension": space.dimension,
                    "metric": METRIC_NAMES[space.metric],
                }
            }
        }
        deployment = {"deployment_type": "managed", "cloud": self._cloud, "region": self._region}

        def create() -> IndexModel | None:
            from pinecone.errors.exceptions import ConflictError as PineconeConflict

            try:
                # timeout=-1: return at once; readiness is polled below with our own sleep.
                return control.indexes.create(name=name, schema=schema, deployment=deployment, timeout=-1)
            except PineconeConflict:
                return None  # created by another process (or by our own timed-out attempt)

        model = self._calls.call("create_index", space, create)
        if model is None:
            model = self._describe(name, space)
        if model is None:
            raise VectorStoreUnavailableError(
                f"vector store unavailable: Pinecone index '{name}' was reported as existing, then missing",
                {"operation": "create_index", "space": space.name, "vector_store": STORE_NAME},
            )
        return model

    def _wait_until_ready(self, name: str, space: Space, model: IndexModel) -> str:
        for delay in (0.0, *_READY_POLL_DELAYS):
            if delay:
                self._sleep(delay)
                found = self._describe(name, space)
                if found is None:
                    break
                model = found
            if model.status.state in ("InitializationFailed", "Terminating", "Disabled"):
                break
            if model.status.ready and model.host:
                return model.host
        state = model.status.state
        error = VectorStoreUnavailableError(
            f"vector store unavailable: Pinecone index '{name}' is not ready yet (state {state!r}); "
            "retry shortly",
            {"operation": "create_index", "space": space.name, "vector_store": STORE_NAME, "state": state},
        )
        error.retry_after = _POOL_INITIALIZING_RETRY_AFTER
        raise error

    def check_no_other_dimension(self, space: Space) -> None:
        """`ConflictError` if this space already holds vectors of another dimension (in another
        pool). Checked once per space and process: a space's dimension never changes."""
        if (space.name, space.dimension) in self._dimension_checked:
            return
        control = self._calls.control()
        models = self._calls.call("list_indexes", space, lambda: list(control.indexes.list()))
        others = [
            (dimension, model.host)
            for model in models
            if (dimension := self._pool_dimension(model.name)) is not None
            and dimension != space.dimension
            and model.host
        ]

        def holds_space(host: str) -> bool:
            index = self._calls.index(host)
            stats = self._calls.call("describe_index_stats", space, lambda: index.describe_index_stats())
            summary = stats.namespaces.get(space.name)
            return summary is not None and summary.vector_count > 0

        found = self._calls.run_all([bind(holds_space, host) for _, host in others])
        for (dimension, _), holds in zip(others, found, strict=True):
            if holds:
                raise ConflictError(
                    f"vector space '{space.name}' exists with dimension {dimension}, not {space.dimension}",
                    {
                        "space": space.name,
                        "existing_dimension": dimension,
                        "requested_dimension": space.dimension,
                    },
                )
        with self._lock:
            self._dimension_checked.add((space.name, space.dimension))

    def _pool_dimension(self, index_name: str) -> int | None:
        """The dimension of one of our pools, from its name; None for any other index."""
        prefix = f"{self._prefix}-"
        if not index_name.startswith(prefix):
            return None
        dimension, _, metric = index_name[len(prefix) :].partition("-")
        if not dimension.isdigit() or metric not in METRIC_NAMES.values():
            return None
        return int(dimension)


def _check_pool(model: IndexModel, name: str, space: Space) -> None:
    """An index with our pool's name must be one of our pools (one dense field of its shape)."""
    fields = getattr(getattr(model, "schema", None), "fields", None) or {}
    dense = fields.get(VALUES_FIELD)
    dimension = getattr(dense, "dimension", None)
    metric = getattr(dense, "metric", None)
    if dimension == space.dimension and metric == METRIC_NAMES[space.metric]:
        return
    raise ConflictError(
        f"Pinecone index '{name}' exists but is not a pool for dimension {space.dimension} and metric "
        f"{METRIC_NAMES[space.metric]} (it has dimension {dimension}, metric {metric}); rename it or "
        "choose another index prefix",
        {"index": name, "existing_dimension": dimension, "requested_dimension": space.dimension},
    )
