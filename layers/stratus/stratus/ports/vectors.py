"""The vector store port. A vector **space** is one (namespace, vector index): the unit a
`VectorStore` stores and searches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from stratus.filters import FilterNode
from stratus.models.namespaces import Metric, PayloadIndexConfig


@dataclass(frozen=True)
class Space:
    """Where one vector index of one namespace lives. `storage_key` is unique per namespace
    incarnation (never reused), so an org's data can never be reached through another org."""

    storage_key: str
    index_name: str
    dimension: int
    metric: Metric
    # The namespace's payload indexes: stores use them to write index-backed fields on upsert
    # (e.g. tokenized text) and to compile filters against real indexes.
    payload_indexes: tuple[PayloadIndexConfig, ...] = ()
    # Which physical copy of the index: "" for the one it was created with; a model migration
    # (services/backfill) builds the next copy under a new, never reused generation, and swaps it
    # in. "." cannot occur in an index name, so no generation can collide with another index.
    generation: str = ""

    @property
    def name(self) -> str:
        base = f"{self.storage_key}__{self.index_name}"
        return f"{base}.{self.generation}" if self.generation else base


@dataclass
class VectorRecord:
    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass(frozen=True)
class VectorColumns:
    """Records as columns, as the upsert route carries them: the vectors are one matrix (numpy,
    float32 or float64, a row per id, C-contiguous), never a list of Python floats per record.
    `payload_json`, when given, is each payload as compact JSON (`json.dumps(payload,
    ensure_ascii=False, separators=(",", ":"))`, finite numbers only, or None where the caller
    could not encode it so): a store writes that text instead of encoding the payload again."""

    ids: Sequence[str]
    payloads: Sequence[dict[str, Any]]
    vectors: Any  # numpy.ndarray of shape (len(ids), dimension): numpy is not imported at init
    payload_json: Sequence[str | None] | None = None

    def records(self) -> list[VectorRecord]:
        """The same records one by one (for stores without a columnar path, and tests)."""
        rows = self.vectors.tolist()
        return [
            VectorRecord(id=record_id, payload=payload, vector=row)
            for record_id, payload, row in zip(self.ids, self.payloads, rows, strict=True)
        ]


@dataclass
class ScoredRecord:
    id: str
    score: float  # higher is better, whatever the metric
    payload: dict[str, Any]
    vector: list[float] | None = None


@dataclass
class RecordPage:
    records: list[VectorRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class StoreCapabilities:
    name: str
    operators: frozenset[str]
    # Operators answered exactly only with a payload index on the field (e.g. Pinecone `text`).
    notes: dict[str, str] = field(default_factory=dict)


class VectorStore(Protocol):
    """Raises `VectorStoreUnavailableError` when the store is down; never half-acknowledges."""

    @property
    def capabilities(self) -> StoreCapabilities: ...

    def locator(self, storage_key: str) -> str:
        """Human-readable location reported in `infrastructure.vector_store_locator`."""
        ...

    def ensure_space(self, space: Space) -> None:
        """Create the space if missing; `ConflictError` if it exists with another dimension."""
        ...

    def upsert(self, space: Space, records: Sequence[VectorRecord]) -> None:
        """Insert or overwrite whole records by id. Every record carries a vector."""
        ...

    def upsert_columns(self, space: Space, columns: VectorColumns) -> None:
        """`upsert` of the same records, given as columns: the same stored result, without a
        Python float per vector value on the way."""
        ...

    def delete(self, space: Space, ids: Sequence[str]) -> None: ...

    def fetch(self, space: Space, ids: Sequence[str], include_vectors: bool) -> dict[str, VectorRecord]: ...

    def query(
        self,
        space: Space,
        vector: Sequence[float],
        top_k: int,
        filter: FilterNode | None,
        include_vectors: bool,
    ) -> list[ScoredRecord]: ...

    def list(
        self,
        space: Space,
        filter: FilterNode | None,
        limit: int,
        after_id: str | None,
        include_vectors: bool,
    ) -> RecordPage:
        """Records ordered by id, strictly after `after_id`."""
        ...

    def count(self, space: Space) -> int: ...

    def ids(self, space: Space) -> set[str]:
        """Every id in the space (used to count documents spread over several indexes)."""
        ...

    def drop_space(self, space: Space) -> None:
        """Remove the space and its vectors; no error if it does not exist."""
        ...

    def build_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Create (or rebuild) the store's index for one payload field of `space`, backfilling the
        records already there. Idempotent. `space.payload_indexes` already includes `index`."""
        ...

    def drop_payload_index(self, space: Space, index: PayloadIndexConfig) -> None:
        """Undo `build_payload_index`: remove whatever the store keeps for that index (its own
        index structures, columns or per-record keys). Idempotent, also for an index never
        built. `space.payload_indexes` no longer includes `index`."""
        ...
