"""The small, pure parts of ingestion: derived ids, key rules, blob decoding, S3 event parsing and
what each extractor makes of an object's blobs."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import pytest

from stratus import limits
from stratus.domain.content import (
    Blob,
    blobs_of,
    check_image_pixels,
    decode_manifest,
    encode_manifest,
    file_blob,
    image_size,
    sniffed_image_type,
)
from stratus.domain.object_keys import (
    bucket_prefix_of,
    checked_filename,
    document_id_for,
    normalized_key_prefix,
    object_id_for_key,
    task_id_for,
)
from stratus.errors import BadRequestError
from stratus.models.managed_content import Collection, CollectionExtractor, SourceOfBuckets
from stratus.ports import StoredBlob
from stratus.services.ingestion.extraction import Draft, drafts_for
from stratus.services.ingestion.s3_events import MalformedMessageError, object_events


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature and IHDR chunk: all a header reader sees, a few dozen bytes whatever the
    canvas they declare."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + header
        + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    )


PNG = png_header(2, 2)


def test_ids_are_derived_stable_and_distinct() -> None:
    key = "ns_a/bkt_b/notes.txt"
    assert object_id_for_key(key) == object_id_for_key(key)
    assert object_id_for_key(key) != object_id_for_key(key + "x")
    assert object_id_for_key(key).startswith("obj_") and len(object_id_for_key(key)) == 28
    assert task_id_for("obj_1", "e1") != task_id_for("obj_1", "e2")
    assert task_id_for("obj_1", "e1").startswith("task_")
    ids = {document_id_for("obj_1", "col_1", "file", i) for i in range(100)}
    assert len(ids) == 100 and document_id_for("obj_1", "col_2", "file", 0) not in ids


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("ns_a/bkt_b/notes.txt", "ns_a/bkt_b/"),
        ("ns_a/bkt_b/deep/er/notes.txt", "ns_a/bkt_b/"),
        ("ns_a/bkt_b/", None),
        ("notes.txt", None),
        ("ns_a//notes.txt", None),
    ],
)
def test_the_bucket_prefix_is_the_first_two_folders(key: str, prefix: str | None) -> None:
    assert bucket_prefix_of(key) == prefix


def test_key_prefixes_and_filenames_are_plain_names() -> None:
    assert normalized_key_prefix(None) == "" and normalized_key_prefix("/") == ""
    assert normalized_key_prefix("/a/b c/") == "a/b c/"
    for bad in ("a/../b", "a//b", "..", "a/\x00", "ä/b"):
        with pytest.raises(BadRequestError) as caught:
            normalized_key_prefix(bad)
        assert caught.value.details["field"] == "key_prefix"
    assert checked_filename("notes (1).txt") == "notes (1).txt"
    for bad in ("a/b.txt", "..", "a\\b.txt", ""):
        with pytest.raises(BadRequestError):
            checked_filename(bad)


def test_files_become_blobs_by_extension_or_content_type() -> None:
    text = file_blob("ns/b/readme.md", b"# Title\n\nBody", None)
    assert (text.type, text.text, text.content_type, text.filename) == (
        "text",
        "# Title\n\nBody",
        "text/markdown",
        "readme.md",
    )
    as_json = file_blob("ns/b/data.json", json.dumps({"a": "first", "b": ["second"], "n": 1}).encode(), None)
    assert as_json.text == "first\nsecond"
    no_extension = file_blob("ns/b/blob", b"plain words", "text/plain")
    assert no_extension.type == "text" and no_extension.text == "plain words"
    image = file_blob("ns/b/photo.PNG", PNG, None)
    assert image.type == "image" and image.data == PNG and image.content_type == "image/png"
    with pytest.raises(BadRequestError, match=r"unsupported file type \.pdf"):
        file_blob("ns/b/x.pdf", b"%PDF", "application/pdf")
    with pytest.raises(BadRequestError, match="not a JPEG, PNG or WebP"):
        file_blob("ns/b/fake.jpg", b"GIF89a....", None)
    with pytest.raises(BadRequestError, match="not UTF-8"):
        file_blob("ns/b/latin.txt", "café".encode("latin-1"), None)


def test_image_sniffing() -> None:
    assert sniffed_image_type(PNG) == "image/png"
    assert sniffed_image_type(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert sniffed_image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniffed_image_type(b"RIFF\x00\x00\x00\x00WAVE") is None


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("JPEG", {"exif": b"Exif\x00\x00" + b"\x00" * 64}),  # an APP1 segment before the frame
        ("WEBP", {"quality": 80}),  # lossy: VP8
        ("WEBP", {"lossless": True}),  # VP8L
        ("WEBP", {"quality": 80, "icc_profile": b"\x00" * 32}),  # extended: VP8X
    ],
)
@pytest.mark.parametrize("size", [(1, 1), (37, 5), (640, 480)])
def test_image_sizes_are_read_from_headers(fmt: str, options: dict[str, Any], size: tuple[int, int]) -> None:
    image_module = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    image_module.new("RGB", size, (10, 200, 30)).save(buffer, format=fmt, **options)
    assert image_size(buffer.getvalue()) == size


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff", b"\xff\xd8\xff\xe0\x00\x10" + b"\x00" * 14 + b"\xff\xda", PNG[:20], b"GIF89a", b""],
)
def test_an_unreadable_header_has_no_size(data: bytes) -> None:
    assert image_size(data) is None


def _image_blobs(*sizes: tuple[int, int]) -> list[Blob]:
    return [Blob(f"p{i}", "image", "image/png", data=png_header(*size)) for i, size in enumerate(sizes)]


def test_an_objects_images_share_one_pixel_budget_checked_before_decoding() -> None:
    side = 7000  # 49 MP each, a few dozen bytes each: the decompression bombs of the issue
    fitting = limits.MAX_OBJECT_IMAGE_PIXELS // (side * side)
    check_image_pixels(_image_blobs(*[(side, side)] * fitting))
    with pytest.raises(BadRequestError) as refused:
        check_image_pixels(
            [Blob("notes", "text", "text/plain", text="t"), *_image_blobs(*[(side, side)] * 16)]
        )
    assert refused.value.details == {
        "field": f"blobs[{fitting + 1}]",
        "limit": limits.MAX_OBJECT_IMAGE_PIXELS,
        "pixels": (fitting + 1) * side * side,
    }
    assert f"p{fitting}' is 7000x7000 pixels" in refused.value.message


def test_the_extractor_refuses_an_object_past_the_budget_and_a_header_it_cannot_read() -> None:
    key = "ns/b/x.stratus-object.json"
    manifest = encode_manifest(_image_blobs(*[(7000, 7000)] * 16), {})
    with pytest.raises(BadRequestError, match="pixels in all"):
        blobs_of(StoredBlob(key, manifest, "application/json", "e", {"stratus-manifest": "1"}))
    # A plain file: one image alone past the budget.
    with pytest.raises(BadRequestError, match="pixels in all"):
        blobs_of(StoredBlob("ns/b/huge.png", png_header(15_000, 15_000), "image/png", "e", {}))
    truncated = b"\xff\xd8\xff\xe0\x00\x10JFIF"
    with pytest.raises(BadRequestError, match="declares no size"):
        blobs_of(StoredBlob("ns/b/cut.jpg", truncated, "image/jpeg", "e", {}))


def test_manifests_round_trip_and_only_flagged_manifests_are_read_as_such() -> None:
    blobs = [
        Blob("title", "text", "text/plain", text="héllo"),
        Blob("photo", "image", "image/png", "p.png", data=PNG),
    ]
    encoded = encode_manifest(blobs, {"k": [1, 2]})
    assert decode_manifest(encoded) == (blobs, {"k": [1, 2]})
    key = "ns/b/x.stratus-object.json"
    assert blobs_of(StoredBlob(key, encoded, "application/json", "e", {"stratus-manifest": "1"}))[0] == blobs
    # The same bytes uploaded by a user (no flag) are just a JSON file: its strings are its text.
    (as_file,), metadata = blobs_of(StoredBlob(key, encoded, "application/json", "e", {"team": "a"}))
    assert as_file.type == "text" and "héllo" in (as_file.text or "") and metadata == {"team": "a"}
    with pytest.raises(BadRequestError, match="manifest is unreadable"):
        decode_manifest(b'{"stratus_object": 1, "blobs": [{"type": "video"}]}')


def _s3_message(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def _created(key: str, etag: str = '"abc"', name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "eventName": name,
        "s3": {"bucket": {"name": "data"}, "object": {"key": key, "eTag": etag, "size": 5}},
    }


def test_s3_events_decode_keys_and_keep_only_object_created() -> None:
    events = object_events(
        _s3_message(
            _created("ns/b/q3+notes%C3%A9.txt"),
            _created("ns/b/removed.txt", name="ObjectRemoved:Delete"),
            _created("ns/b/copied.txt", name="ObjectCreated:Copy"),
        )
    )
    assert [(e.key, e.etag, e.size) for e in events] == [
        ("ns/b/q3 notesé.txt", "abc", 5),
        ("ns/b/copied.txt", "abc", 5),
    ]
    assert object_events(json.dumps({"Event": "s3:TestEvent", "Bucket": "data"})) == []
    for body in ("nope", "[]", json.dumps({"Records": "x"}), _s3_message({"eventName": "ObjectCreated:Put"})):
        with pytest.raises(MalformedMessageError):
            object_events(body)


def _collection(name: str, **parameters: Any) -> Collection:
    return Collection(
        org_id="o",
        namespace_id="n",
        collection_id="col_1",
        collection_name="c",
        source=SourceOfBuckets(bucket_ids=["bkt_1"]),
        feature_extractor=CollectionExtractor(
            feature_extractor_name=name,
            version="v1",
            feature_extractor_id=f"{name}_v1",
            parameters=parameters,
            inference_service="s",
        ),
        vector_index="i",
        created_at="t",
    )


def _kinds(drafts: list[Draft]) -> list[tuple[str, str, int]]:
    return [(d.blob.property, d.modality, d.chunk_index) for d in drafts]


def test_each_extractor_reads_the_inputs_it_suits() -> None:
    blobs = [
        Blob("body", "text", "text/plain", text="One. Two. Three."),
        Blob("empty", "text", "text/plain", text="   "),
        Blob("photo", "image", "image/png", data=PNG),
    ]
    text = _collection("text_extractor", split_by="sentences", chunk_size=6, chunk_overlap=0)
    assert _kinds(drafts_for(text, blobs)) == [("body", "text", 0), ("body", "text", 1), ("body", "text", 2)]
    whole = _collection("text_extractor", split_by="none", chunk_size=1000, chunk_overlap=0)
    assert _kinds(drafts_for(whole, blobs)) == [("body", "text", 0)]
    assert _kinds(drafts_for(_collection("image_extractor", model="clip_vit_b32"), blobs)) == [
        ("photo", "image", 0)
    ]
    assert _kinds(drafts_for(_collection("multimodal_extractor", model="clip_vit_b32"), blobs)) == [
        ("body", "text", 0),
        ("photo", "image", 0),
    ]


def test_an_object_makes_at_most_max_chunks_documents_over_all_its_texts() -> None:
    text = _collection("text_extractor", split_by="sentences", chunk_size=50, chunk_overlap=0)
    sentence = "Thirty characters, give or take. "  # two never fit in one chunk of 50
    half = limits.MAX_CHUNKS_PER_OBJECT // 2
    first = Blob("first", "text", "text/plain", text=sentence * half)
    assert len(drafts_for(text, [first, Blob("second", "text", "text/plain", text=sentence * half)])) == (
        limits.MAX_CHUNKS_PER_OBJECT
    )
    with pytest.raises(BadRequestError) as refused:
        drafts_for(text, [first, Blob("second", "text", "text/plain", text=sentence * (half + 1))])
    assert refused.value.details["max_chunks"] == limits.MAX_CHUNKS_PER_OBJECT
    assert f"more than {limits.MAX_CHUNKS_PER_OBJECT} chunks" in refused.value.message
