"""`list` on Pinecone, which lists ids only (100 per request, in order, no metadata filter, no
"start after"): pages through the ids, fetches the candidates' payloads and keeps the ones the
filter accepts, within a bounded amount of work."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from stratus.adapters.pinecone import STORE_NAME
from stratus.adapters.pinecone.client import PineconeCalls
from stratus.adapters.pinecone.records import decode_id, visible
from stratus.adapters.text_tokens import evaluate_indexed, text_indexes
from stratus.errors import BadRequestError
from stratus.filters import FilterNode
from stratus.ports import RecordPage, Space, VectorRecord

if TYPE_CHECKING:
    from pinecone.index import Index

LIST_PAGE_SIZE = 100  # the most `list` returns per request
# Page tokens remembered for "the page after id X" (per process, least recently used out).
MAX_REMEMBERED_CURSORS = 4096


def id_pages(
    calls: PineconeCalls, space: Space, index: Index, token: str | None, limit: int | None
) -> Iterator[tuple[str | None, list[str]]]:
    """(the token that produced the page, its ids) for each page of ids from `token` on, at
    most `limit` requests (None: no bound)."""
    requests = 0
    while True:
        if limit is not None and requests >= limit:
            raise BadRequestError(
                f"listing space '{space.name}' needs more than {limit} Pinecone list requests: "
                f"the '{STORE_NAME}' vector store reads ids from the start of the namespace unless "
                "this process served the previous page; retry, or search instead",
                {"space": space.name, "vector_store": STORE_NAME},
            )
        requests += 1
        used = token
        response = calls.call(
            "list",
            space,
            functools.partial(
                index.list_paginated, namespace=space.name, limit=LIST_PAGE_SIZE, pagination_token=used
            ),
        )
        ids = [item.id for item in response.vectors if item.id is not None]
        yield used, ids
        token = response.pagination.next if response.pagination is not None else None
        if not token or not ids:
            return


class RememberedCursors:
    """(space, last id of a page served) → Pinecone's token for the page it sat in, so the next
    page starts there instead of at the namespace's first id. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: OrderedDict[tuple[str, str], str | None] = OrderedDict()

    def remember(self, space: Space, last_id: str, token: str | None) -> None:
        with self._lock:
            self._tokens[(space.name, last_id)] = token
            self._tokens.move_to_end((space.name, last_id))
            while len(self._tokens) > MAX_REMEMBERED_CURSORS:
                self._tokens.popitem(last=False)

    def recall(self, space: Space, last_id: str) -> tuple[bool, str | None]:
        with self._lock:
            key = (space.name, last_id)
            if key not in self._tokens:
                return False, None
            self._tokens.move_to_end(key)
            return True, self._tokens[key]

    def forget_space(self, space: Space) -> None:
        with self._lock:
            for key in [key for key in self._tokens if key[0] == space.name]:
                del self._tokens[key]


class ScanSource(Protocol):
    """What a scan reads through: the store's calls, cursors, limits and fetch (the Pinecone store
    is one; naming it here keeps this module below the store, not beside it in a cycle)."""

    calls: PineconeCalls
    cursors: RememberedCursors
    list_request_limit: int
    list_scan_limit: int

    def fetch_encoded(self, space: Space, index: Index, encoded: list[str]) -> dict[str, VectorRecord]: ...


class ListScan:
    """One `list` call: ids strictly after `after` (Pinecone ids), in order."""

    def __init__(self, store: ScanSource, space: Space, index: Index, after: str | None) -> None:
        self.store, self.space, self.index, self.after = store, space, index, after
        # `text` on a field with a text index follows the index's tokenizer, as `query` does.
        self.text_indexes = text_indexes(space.payload_indexes)

    def candidates(self) -> Iterator[tuple[str | None, list[str]]]:
        """(page token, ids after `after`) per page. Starts from the page remembered for `after`
        when this process served the previous page, else from the namespace's first id."""
        if self.after is not None:
            known, start = self.store.cursors.recall(self.space, self.after)
            if known and start is not None:
                pages = self._after(start)
                try:
                    first = next(pages, None)
                except BadRequestError as exc:
                    if exc.details.get("operation") != "list":
                        raise
                    first = None  # Pinecone refused the old token: scan from the start instead
                else:
                    if first is not None:
                        yield first
                    yield from pages
                    return
        yield from self._after(None)

    def _after(self, token: str | None) -> Iterator[tuple[str | None, list[str]]]:
        pages = id_pages(self.store.calls, self.space, self.index, token, self.store.list_request_limit)
        for used, ids in pages:
            fresh = [record_id for record_id in ids if self.after is None or record_id > self.after]
            if fresh:
                yield used, fresh

    def page(self, limit: int, include_vectors: bool) -> RecordPage:
        wanted: list[tuple[str, str | None]] = []  # (id, token of its page)
        for token, ids in self.candidates():
            wanted.extend((record_id, token) for record_id in ids)
            if len(wanted) > limit:
                break
        more = len(wanted) > limit
        wanted = wanted[:limit]
        found = self.store.fetch_encoded(self.space, self.index, [record_id for record_id, _ in wanted])
        # A record deleted between the two reads is simply left out of the page.
        records = [
            visible(found[record_id], include_vectors) for record_id, _ in wanted if record_id in found
        ]
        return self._result(records, wanted[-1] if more and wanted else None)

    def filtered_page(self, node: FilterNode, limit: int, include_vectors: bool) -> RecordPage:
        matched: list[tuple[VectorRecord, str, str | None]] = []  # (record, its id, its page token)
        examined = 0
        exhausted = True
        for token, ids in self.candidates():
            found = self.store.fetch_encoded(self.space, self.index, ids)
            examined += len(ids)
            for record_id in ids:
                record = found.get(record_id)
                if record is not None and evaluate_indexed(node, record.payload, self.text_indexes):
                    matched.append((visible(record, include_vectors), record_id, token))
            if len(matched) > limit:
                break
            if examined >= self.store.list_scan_limit:
                if len(matched) < limit:
                    raise self._too_selective(examined)
                exhausted = False  # a full page, but whether more match is unknown
                break
        more = len(matched) > limit or (not exhausted and len(matched) == limit)
        matched = matched[:limit]
        last = (matched[-1][1], matched[-1][2]) if more and matched else None
        return self._result([record for record, _, _ in matched], last)

    def _result(self, records: list[VectorRecord], last: tuple[str, str | None] | None) -> RecordPage:
        if last is None:
            return RecordPage(records=records, next_cursor=None)
        last_id, token = last
        self.store.cursors.remember(self.space, last_id, token)
        return RecordPage(records=records, next_cursor=decode_id(last_id))

    def _too_selective(self, examined: int) -> BadRequestError:
        return BadRequestError(
            f"filters: the '{STORE_NAME}' vector store filters a listing by reading the documents "
            f"themselves, and {examined} of them did not fill the page; ask for a smaller limit, or "
            "search with the same filter (POST /v1/search)",
            {"field": "filters", "examined": examined, "vector_store": STORE_NAME},
        )
