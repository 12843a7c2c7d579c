"""Writing the batch's documents: each embedded job's records, one upsert per space (a refused
one made again job by job, so only the job at fault fails), a migrating index's shadow copy
written after the index (its vectors embedded before either is written); then each replaced
object's stale chunks deleted, from the index, then from the shadow copy."""

from __future__ import annotations

from stratus import clock
from stratus.errors import StratusError
from stratus.filters import parse_filter
from stratus.ports.stores import Stores
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.backfill.mirror import mirror_delete, shadow_upsert
from stratus.services.ingestion.batch_state import Job
from stratus.services.ingestion.extraction import records_for

_LIST_PAGE = 1000


class VectorWriter:
    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def write(self, jobs: list[Job]) -> None:
        """One upsert per space for every embedded job writing into it, then each replaced
        object's stale chunks deleted."""
        now = clock.iso_now()
        by_space: dict[str, list[Job]] = {}
        for job in jobs:
            if job.claimed and not job.failed:
                assert job.item.started is not None and job.space is not None
                vectors = [vector for vector in job.vectors if vector is not None]
                if len(vectors) != len(job.drafts):  # a bug in the embedding step: retry, never guess
                    job.fail(RuntimeError(f"{len(job.drafts) - len(vectors)} drafts were not embedded"))
                    continue
                record = job.item.started.model_copy(update=job.item.content())
                try:  # a required source field the object lacks fails it (field passthrough)
                    job.records = records_for(
                        record, job.collection, record.metadata, job.drafts, vectors, now
                    )
                except Exception as error:
                    job.fail(error)
                    continue
                job.documents = len(job.records)
                by_space.setdefault(job.space.name, []).append(job)
        for space_jobs in by_space.values():
            self._upsert(space_jobs)
        for job in jobs:
            if job.claimed and not job.failed and job.item.replaces:
                try:
                    self._delete_stale(job)
                except Exception as error:
                    job.fail(error)

    def _upsert(self, jobs: list[Job]) -> None:
        space = jobs[0].space
        assert space is not None
        records = [record for job in jobs for record in job.records]
        try:
            if records:
                self._stores.vectors.ensure_space(space)
                self._write(jobs[0], space, records)
        except StratusError as error:
            if not 400 <= error.status < 500 or len(jobs) == 1:
                for job in jobs:
                    job.fail(error)
                return
            for job in jobs:  # refused for some record: find whose
                try:
                    self._write(job, space, job.records)
                except Exception as one_error:
                    job.fail(one_error)
        except Exception as error:
            for job in jobs:
                job.fail(error)

    def _write(self, job: Job, space: Space, records: list[VectorRecord]) -> None:
        """`records` into `space` (whose jobs share `job`'s namespace). An index being migrated
        gets the write in its shadow copy too: embedded first, written after the index
        (services/backfill/mirror)."""
        assert job.item.namespace is not None
        if records:
            shadow_write = shadow_upsert(self._stores, job.item.namespace, space.index_name, records)
            self._stores.vectors.upsert(space, records)
            if shadow_write is not None:
                shadow_write.apply(self._stores)

    def _delete_stale(self, job: Job) -> None:
        """A new version may have fewer chunks: remove the ones it no longer has (from a
        migrating index's shadow copy too, after the index)."""
        assert job.space is not None and job.item.namespace is not None
        kept = {record.id for record in job.records}
        stale = self._ids_of(job.space, job.item.object_id, job.collection.collection_id) - kept
        if stale:
            self._stores.vectors.delete(job.space, sorted(stale))
            mirror_delete(self._stores, job.item.namespace, job.space.index_name, sorted(stale))

    def _ids_of(self, space: Space, object_id: str, collection_id: str) -> set[str]:
        node = parse_filter(
            {
                "AND": [
                    {"field": "object_id", "operator": "eq", "value": object_id},
                    {"field": "collection_id", "operator": "eq", "value": collection_id},
                ]
            },
            "filters",
        )
        found: set[str] = set()
        after: str | None = None
        while True:
            page = self._stores.vectors.list(space, node, _LIST_PAGE, after, include_vectors=False)
            found.update(r.id for r in page.records)
            if page.next_cursor is None or not page.records:
                return found
            after = page.records[-1].id
