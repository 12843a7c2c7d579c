"""The parts of services/backfill that need no store: batching, sources, spaces, retries, and the
template agreeing with the code."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest

from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from stratus.models.namespaces import BackfillSource, IndexMigration, Namespace, VectorConfig
from stratus.ports.vectors import Space
from stratus.services.backfill import sources
from stratus.services.backfill.embedding import TEXT_BATCH, embed_in_batches
from stratus.services.backfill.messages import MAX_RECEIVES
from stratus.services.backfill.sources import Input, Owner
from stratus.services.spaces import all_spaces, shadow_spaces, space_for
from stratus_local.template import load_template


class FakeEmbedder:
    name = "fake"
    dimension = 2

    def __init__(self, refuse: str = "", down: bool = False) -> None:
        self.calls: list[list[str]] = []
        self._refuse = refuse
        self._down = down

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self._down:
            raise InferenceServiceUnavailableError("down", {})
        if self._refuse and self._refuse in texts:
            raise BadRequestError(f"cannot embed {self._refuse!r}", {})
        return [[float(len(text)), 1.0] for text in texts]

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise BadRequestError("text only", {})


def test_inputs_are_embedded_in_the_models_batches_and_each_batch_written_at_once() -> None:
    embedder = FakeEmbedder()
    written: list[dict[str, list[float]]] = []
    inputs = {f"d{i}": Input(text=f"text {i}") for i in range(TEXT_BATCH * 2 + 5)}

    failed = embed_in_batches(embedder, inputs, written.append)

    assert failed == {}
    assert [len(call) for call in embedder.calls] == [TEXT_BATCH, TEXT_BATCH, 5]
    assert [len(batch) for batch in written] == [TEXT_BATCH, TEXT_BATCH, 5]
    assert set().union(*written) == set(inputs)


def test_an_input_the_model_refuses_fails_alone() -> None:
    embedder = FakeEmbedder(refuse="text 3")
    written: dict[str, list[float]] = {}
    inputs = {f"d{i}": Input(text=f"text {i}") for i in range(6)}

    failed = embed_in_batches(embedder, inputs, written.update)

    assert set(failed) == {"d3"} and "text 3" in failed["d3"]
    assert set(written) == {"d0", "d1", "d2", "d4", "d5"}


def test_an_outage_raises_so_that_the_page_is_retried() -> None:
    with pytest.raises(InferenceServiceUnavailableError):
        embed_in_batches(FakeEmbedder(down=True), {"a": Input(text="x")}, lambda batch: None)


class NoFetch:
    def fetch(self, url: str, field: str) -> bytes:
        raise AssertionError("no fetch expected")


class Stores:
    """Just enough of `Stores` for field sources (the fetcher)."""

    fetcher: Any = NoFetch()


OWNER = Owner("org", "ns", "key")


def _any(stores: object) -> Any:
    return stores


def test_a_field_source_reads_a_dot_path_and_skips_documents_without_a_value() -> None:
    payloads: dict[str, dict[str, Any]] = {
        "a": {"meta": {"caption": "a red kite"}},
        "b": {"meta": {"caption": "   "}},
        "c": {"meta": {"caption": 42}},
        "d": {},
    }
    resolved = sources.resolve(
        _any(Stores()),
        OWNER,
        BackfillSource(field="meta.caption"),
        "minilm_l6_v2",
        payloads,
    )
    assert resolved.inputs == {"a": Input(text="a red kite")}
    assert set(resolved.skipped) == {"b", "c", "d"} and resolved.failed == {}


def test_a_text_only_service_reads_a_url_as_text_and_an_image_service_decodes_a_data_uri() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 8
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    source = BackfillSource(field="img")
    as_text = sources.resolve(_any(Stores()), OWNER, source, "minilm_l6_v2", {"a": {"img": uri}})
    assert as_text.inputs == {"a": Input(text=uri)}
    as_image = sources.resolve(_any(Stores()), OWNER, source, "clip_vit_b32", {"a": {"img": uri}})
    assert as_image.inputs == {"a": Input(image=png)}
    broken = sources.resolve(
        _any(Stores()),
        OWNER,
        source,
        "clip_vit_b32",
        {"a": {"img": "data:image/png;base64,@@@"}},
    )
    assert set(broken.failed) == {"a"}


def test_an_object_source_never_reads_a_key_outside_the_namespace() -> None:
    """A payload is client data: a document naming another namespace's object is skipped, and
    the blob store is never asked for it."""

    class Blobs:
        def get(self, key: str, max_bytes: int) -> Any:
            raise AssertionError(f"read {key}")

    class ObjectStores(Stores):
        blobs: Any = Blobs()

    payloads = {"a": {"source_key": "other-tenant/bkt_x/secret.txt", "collection_id": "col_1"}}
    resolved = sources.resolve(
        _any(ObjectStores()),
        OWNER,
        BackfillSource(object=True),
        "minilm_l6_v2",
        payloads,
    )
    assert set(resolved.skipped) == {"a"} and resolved.inputs == {}


def test_looks_like_image() -> None:
    assert sources.looks_like_image("https://example.com/cat.jpg")
    assert sources.looks_like_image("DATA:image/webp;base64,AAAA")
    assert not sources.looks_like_image("data:text/plain,hello")
    assert not sources.looks_like_image("a cat on a mat")


def _namespace(**changes: Any) -> Namespace:
    return Namespace(
        org_id="org",
        namespace_id="ns",
        namespace_name="ns",
        mode="managed",
        storage_key="sk",
        vector_configs=[VectorConfig(name="text", dimension=384), VectorConfig(name="img", dimension=512)],
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        **changes,
    )


def test_an_index_lives_in_the_copy_a_migration_swapped_in_and_shadows_come_after_the_live_indexes() -> None:
    migration = IndexMigration(
        task_id="task_1",
        inference_service="clip_vit_b32",
        dimension=512,
        metric="cosine",
        generation="mabc",
        source=BackfillSource(field="text"),
        started_at="2026-01-01T00:00:00Z",
    )
    namespace = _namespace(index_generations={"img": "m123"}, migrations={"text": migration})
    assert space_for(namespace, VectorConfig(name="text", dimension=384)).name == "sk__text"
    assert space_for(namespace, VectorConfig(name="img", dimension=512)).name == "sk__img.m123"
    (shadow,) = shadow_spaces(namespace)
    assert (shadow.name, shadow.dimension) == ("sk__text.mabc", 512)
    # Writes and deletes reach the live indexes first: a copy never holds what its index has not had.
    assert [space.name for space in all_spaces(namespace)] == ["sk__text", "sk__img.m123", "sk__text.mabc"]
    # "." never appears in an index name, so no generation can be mistaken for another index.
    with pytest.raises(ValueError):
        VectorConfig(name="text.mabc", dimension=4)


def test_a_failed_message_comes_back_after_a_growing_backoff() -> None:
    from stratus.entrypoints.backfill import retry_delay_seconds

    assert [retry_delay_seconds(n) for n in (1, 2, 3, 4, 10)] == [15, 30, 60, 120, 600]


def test_the_backfill_queue_gives_up_when_the_function_does() -> None:
    """The function counts a page's documents as failed on the receive the queue's RedrivePolicy
    allows last; the two numbers must be one."""
    queue = load_template()["Resources"]["BackfillQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES


def test_space_names_without_a_generation_are_unchanged() -> None:
    assert Space("sk", "text", 4, "cosine").name == "sk__text"
