"""The state of one extractor batch: its messages and their S3 events, one `Item` per distinct
object, one `Job` per (object, collection), and what each object and message came to. Every
stage of the pipeline (planning, reading, statuses, vector writes) reads and fills these."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stratus.domain.content import Blob, is_manifest
from stratus.errors import StratusError
from stratus.models.managed_content import Collection
from stratus.models.namespaces import Namespace
from stratus.models.objects import ObjectRecord
from stratus.ports.blobs import StoredBlob
from stratus.ports.metadata import BucketRoute, ObjectKey
from stratus.ports.vectors import Space, VectorRecord
from stratus.services.ingestion.extraction import Draft

MAX_ERROR_LENGTH = 1000


@dataclass(frozen=True)
class S3ObjectEvent:
    """One `ObjectCreated` record of an S3 event notification (key already URL-decoded)."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class IngestJob:
    """The idempotency unit: one version (ETag) of one object through one collection."""

    org_id: str
    namespace_id: str
    bucket_id: str
    object_id: str
    etag: str
    collection_id: str

    def as_dict(self) -> dict[str, str]:
        return {
            "org_id": self.org_id,
            "namespace_id": self.namespace_id,
            "bucket_id": self.bucket_id,
            "object_id": self.object_id,
            "etag": self.etag,
            "collection_id": self.collection_id,
        }


@dataclass
class Outcome:
    status: Literal["completed", "skipped", "failed"]
    reason: str = ""
    object_id: str | None = None
    documents: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class IngestLimits:
    # Must equal the queue's maxReceiveCount: the last receive marks a failing object FAILED.
    max_receives: int = 3
    max_object_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class Message:
    """One SQS message of the batch: its S3 object events, or why they could not be read."""

    message_id: str
    receive_count: int
    events: Sequence[S3ObjectEvent] = ()
    error: Exception | None = None


@dataclass
class MessageResult:
    message_id: str
    outcomes: list[Outcome]
    error: Exception | None = None  # set: the message failed and comes back


@dataclass
class Job:
    """One object through one collection: its drafts, then their vectors and records."""

    item: Item
    collection: Collection
    drafts: list[Draft]
    space: Space | None = None
    job: IngestJob | None = None
    claimed: bool = False
    documents: int | None = None
    vectors: list[list[float] | None] = field(default_factory=list)
    records: list[VectorRecord] = field(default_factory=list)
    error: Exception | None = None

    @property
    def service(self) -> str:
        """The index's service now (a model migration may have moved it since the collection was
        made), else the one the collection locked in."""
        assert self.item.namespace is not None
        extractor = self.collection.feature_extractor
        return self.item.namespace.vector_inference_map.get(
            self.collection.vector_index, extractor.inference_service
        )

    @property
    def failed(self) -> bool:
        return self.error is not None

    def fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error


@dataclass
class Prepared:
    """What reading and splitting one object gave (made on a worker thread, handed over whole)."""

    stored: StoredBlob | None = None
    error: Exception | None = None
    blobs: list[Blob] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    drafts: dict[str, list[Draft]] = field(default_factory=dict)  # collection id → drafts
    content_hash: str | None = None  # the stored bytes' SHA-256 (`skip_duplicates`)

    def named(self, prop: str) -> None:
        """A plain file's one blob under the property its upload chose (`blob_property`)."""
        if self.stored is None or is_manifest(self.stored) or len(self.blobs) != 1:
            return
        if self.blobs[0].property == prop:
            return
        blob = dataclasses.replace(self.blobs[0], property=prop)
        self.blobs = [blob]
        self.drafts = {
            collection_id: [dataclasses.replace(draft, blob=blob) for draft in drafts]
            for collection_id, drafts in self.drafts.items()
        }


@dataclass
class Item:
    """One distinct object of the batch (two events for its key share it)."""

    route: BucketRoute
    object_id: str
    key: str
    event_etag: str | None
    receive_count: int
    record: ObjectRecord | None = None  # as stored before this batch
    namespace: Namespace | None = None
    collections: list[Collection] = field(default_factory=list)
    prepared: Prepared | None = None
    started: ObjectRecord | None = None  # as this batch wrote it (PROCESSING)
    replaces: bool = False
    jobs: list[Job] = field(default_factory=list)
    outcome: Outcome | None = None  # skipped or done
    error: Exception | None = None

    @property
    def object_key(self) -> ObjectKey:
        return (self.route.org_id, self.route.namespace_id, self.route.bucket_id, self.object_id)

    @property
    def live(self) -> bool:
        """Still on its way: neither skipped nor failed."""
        return self.outcome is None and self.error is None

    @property
    def etag(self) -> str:
        """The ETag of the version read, else the event's."""
        prepared = self.prepared
        if prepared is not None and prepared.stored is not None:
            return prepared.stored.etag
        return self.event_etag or ""

    def content(self) -> dict[str, Any]:
        """The blobs and merged metadata the object's documents and its COMPLETED record carry."""
        prepared = self.prepared
        started = self.started
        assert prepared is not None and started is not None
        return {
            "blobs": [blob.summary() for blob in prepared.blobs],
            "metadata": {**prepared.metadata, **started.metadata},
        }

    def skip(self, reason: str) -> None:
        self.outcome = Outcome("skipped", reason, self.object_id)

    def fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error


def live(items: Iterable[Item]) -> list[Item]:
    return [item for item in items if item.live]


def already_done(record: ObjectRecord | None, etag: str | None) -> bool:
    return record is not None and bool(etag) and record.etag == etag and record.status == "COMPLETED"


def is_permanent(error: Exception) -> bool:
    """The object's own fault (unreadable, unsupported, too large): retrying cannot help."""
    return isinstance(error, StratusError) and 400 <= error.status < 500


def reason(error: Exception) -> str:
    if isinstance(error, StratusError):
        return error.message[:MAX_ERROR_LENGTH]
    # Anything else is a bug or an SDK fault: its text may carry internals, so only its type.
    return f"internal error ({type(error).__name__}); the message will be retried"
