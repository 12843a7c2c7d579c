"""What the benchmarks of one run share: the sizes, one local stack (started on first use) and
the big standalone namespace (loaded through the API on first use; its load timings are the
API upsert figures)."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.perf.common import Matrix, random_unit_vectors
from tests.perf.stack import (
    LocalStack,
    create_standalone,
    post_upsert,
    running_stack,
    table_name,
    upsert_body,
)

LOAD_NAMESPACE = "bench-search"
LOAD_INDEX = "emb"
# If loading through the API is far slower than expected, stop here and report what was loaded.
LOAD_BUDGET_SECONDS = 420.0


@dataclass(frozen=True)
class Sizes:
    documents: int
    batch: int
    queries: int
    warmup_queries: int
    promotions: int
    race_rounds: int
    race_threads: int
    text_documents: int
    text_queries: int
    # Fresh-process rounds of the cold-start benchmark (each runs every function once).
    cold_start_rounds: int = 11

    @classmethod
    def full(cls) -> Sizes:
        return cls(
            documents=100_000, batch=1000, queries=200, warmup_queries=10, promotions=30,
            race_rounds=20, race_threads=8, text_documents=5000, text_queries=100,
        )  # fmt: skip

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            documents=10_000, batch=1000, queries=50, warmup_queries=5, promotions=10,
            race_rounds=5, race_threads=8, text_documents=1000, text_queries=30,
            cold_start_rounds=5,
        )  # fmt: skip


@dataclass
class LoadedNamespace:
    """The big namespace: `vectors[i]` is document `d{i:07d}`'s vector."""

    namespace_id: str
    index: str
    table: str
    vectors: Matrix
    batch_seconds: list[float]
    wall_seconds: float
    requested: int

    @property
    def loaded(self) -> int:
        return len(self.vectors)


@dataclass
class Context:
    sizes: Sizes
    mode: str
    workdir: Path
    _stack: LocalStack | None = None
    _loaded: LoadedNamespace | None = None
    _exits: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def stack(self) -> LocalStack:
        if self._stack is None:
            started = time.perf_counter()
            self._stack = self._exits.enter_context(running_stack(self.workdir / "stack"))
            self.log(f"local stack up in {time.perf_counter() - started:.1f} s at {self._stack.api_url}")
        return self._stack

    def loaded(self) -> LoadedNamespace:
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded

    def close(self) -> None:
        self._exits.close()
        self._stack = None

    def _load(self) -> LoadedNamespace:
        stack, sizes = self.stack(), self.sizes
        vectors = random_unit_vectors(sizes.documents, seed=1)
        batch_seconds: list[float] = []
        started = time.perf_counter()
        with stack.client() as client:
            namespace = create_standalone(client, LOAD_NAMESPACE, LOAD_INDEX, vectors.shape[1])
            for start in range(0, sizes.documents, sizes.batch):
                body = upsert_body(LOAD_INDEX, vectors[start : start + sizes.batch], start)
                request_started = time.perf_counter()
                post_upsert(client, LOAD_NAMESPACE, body)
                batch_seconds.append(time.perf_counter() - request_started)
                done = start + sizes.batch
                if done % (10 * sizes.batch) == 0:
                    self.log(
                        f"loaded {done} documents through the API ({time.perf_counter() - started:.0f} s)"
                    )
                if time.perf_counter() - started > LOAD_BUDGET_SECONDS and done < sizes.documents:
                    self.log(
                        f"load budget of {LOAD_BUDGET_SECONDS:.0f} s spent: stopping at {done} documents"
                    )
                    break
        loaded = min(sizes.documents, len(batch_seconds) * sizes.batch)
        return LoadedNamespace(
            namespace_id=LOAD_NAMESPACE,
            index=LOAD_INDEX,
            table=table_name(namespace, LOAD_INDEX),
            vectors=vectors[:loaded],
            batch_seconds=batch_seconds,
            wall_seconds=time.perf_counter() - started,
            requested=sizes.documents,
        )


@contextlib.contextmanager
def context(sizes: Sizes, mode: str, workdir: Path) -> Iterator[Context]:
    ctx = Context(sizes=sizes, mode=mode, workdir=workdir)
    try:
        yield ctx
    finally:
        ctx.close()
