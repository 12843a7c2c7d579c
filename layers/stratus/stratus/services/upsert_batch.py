"""An upsert request as the documents service works on it: per document its id, payload and, per
vector index, the vector's dimension (or the text to embed); per index, the rows of the documents
that have a vector there. The rows become one matrix per index only once every rule is checked,
and that matrix is what the vector store gets (`VectorColumns`): no Python float per value on the
way when the API decoded the body into numpy rows (`stratus.api.upsert_body`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from stratus.models.documents import TextToEmbed, UpsertDocumentsRequest

if TYPE_CHECKING:
    import numpy as np


class Rows(Protocol):
    """The API's rows of one index (`stratus.api.upsert_body.IndexRows`)."""

    positions: list[int]
    rows: list[Any]


@dataclass
class DocumentEntry:
    document_id: str | None
    payload: dict[str, Any]
    # index → the vector's dimension, or the text to embed into it
    vectors: dict[str, int | str]


@dataclass
class IndexRows:
    """The vectors of one index: `rows[i]` is document `positions[i]`'s (ascending positions)."""

    positions: list[int] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)

    def add(self, position: int, row: Sequence[float]) -> None:
        if self.positions and position < self.positions[-1]:
            at = next(i for i, p in enumerate(self.positions) if p > position)
            self.positions.insert(at, position)
            self.rows.insert(at, row)
        else:
            self.positions.append(position)
            self.rows.append(row)

    def matrix(self) -> np.ndarray[Any, Any]:
        """The rows as one C-contiguous float64 matrix (the numbers as sent: a store casts them
        as it stores them). Only after the dimensions were checked: every row has the same."""
        import numpy as np

        if self.rows and all(isinstance(row, np.ndarray) for row in self.rows):
            return np.stack(self.rows)
        return np.asarray(self.rows, dtype=np.float64)


@dataclass
class UpsertBatch:
    documents: list[DocumentEntry]
    indexes: dict[str, IndexRows]

    @classmethod
    def of(cls, request: UpsertDocumentsRequest, decoded: Mapping[str, Rows] | None = None) -> UpsertBatch:
        """The batch of a validated request. `decoded`: the vectors the API took out of the body
        (its documents then hold placeholders where those were)."""
        indexes: dict[str, IndexRows] = {
            name: IndexRows(list(rows.positions), list(rows.rows)) for name, rows in (decoded or {}).items()
        }
        # index -> position -> the decoded row's length
        lengths = {
            name: dict(zip(rows.positions, map(len, rows.rows), strict=True))
            for name, rows in indexes.items()
        }
        documents: list[DocumentEntry] = []
        for position, doc in enumerate(request.documents):
            entries: dict[str, int | str] = {}
            for name, value in doc.vectors.items():
                decoded_length = lengths[name].get(position) if name in lengths else None
                if isinstance(value, TextToEmbed):
                    entries[name] = value.text
                elif decoded_length is not None:
                    entries[name] = decoded_length
                else:
                    entries[name] = len(value)
                    indexes.setdefault(name, IndexRows()).add(position, value)
            documents.append(DocumentEntry(doc.document_id, doc.payload, entries))
        return cls(documents, indexes)

    def set_vector(self, position: int, name: str, vector: Sequence[float]) -> None:
        """A text's embedding, in place of the text."""
        self.documents[position].vectors[name] = len(vector)
        self.indexes.setdefault(name, IndexRows()).add(position, vector)
