"""A stored object as blobs: the objects API's manifest, or one plain file (text or image).

Errors here are the object's fault (undecodable, unsupported type): `BadRequestError`s whose
message becomes the object's `error`, and a retry cannot fix them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stratus import limits
from stratus.chunking import extract_text_from_file
from stratus.domain.object_keys import MANIFEST_METADATA, MANIFEST_SUFFIX
from stratus.errors import BadRequestError
from stratus.extractor_catalogue import IMAGE_FILE_EXTENSIONS, TEXT_FILE_EXTENSIONS
from stratus.models.objects import BlobSummary, BlobType
from stratus.ports.blobs import StoredBlob

MANIFEST_VERSION = 1
FILE_PROPERTY = "file"  # the blob property of a plain uploaded file
SUPPORTED_EXTENSIONS = TEXT_FILE_EXTENSIONS + IMAGE_FILE_EXTENSIONS
_IMAGE_TYPES_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
_TEXT_TYPES_BY_EXTENSION = {".txt": "text/plain", ".md": "text/markdown", ".json": "application/json"}
_EXTENSION_BY_CONTENT_TYPE = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/json": ".json",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
}


@dataclass(frozen=True)
class Blob:
    """One piece of an object: text (`text`) or an encoded image (`data`)."""

    property: str
    type: BlobType
    content_type: str
    filename: str | None = None
    text: str | None = None
    data: bytes | None = None

    def byte_size(self) -> int:  # a method: the field `property` shadows the builtin here
        return len(self.data) if self.data is not None else len((self.text or "").encode("utf-8"))

    def summary(self) -> BlobSummary:
        return BlobSummary(
            property=self.property,
            type=self.type,
            content_type=self.content_type,
            size=self.byte_size(),
            filename=self.filename,
        )


# ---------------------------------------------------------------------------------------------
# Images


def sniffed_image_type(data: bytes) -> str | None:
    """The MIME type from the file's magic bytes (JPEG, PNG, WebP), None otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) as a JPEG, PNG or WebP header declares them, read without decoding a pixel;
    None when the header cannot be read."""
    kind = sniffed_image_type(data)
    if kind == "image/png":
        # The IHDR chunk comes first: width and height, big-endian, at bytes 16-24.
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if kind == "image/jpeg":
        return _jpeg_size(data)
    if kind == "image/webp":
        return _webp_size(data)
    return None


# JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC): they carry the frame's size.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn: no length field


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if marker in _JPEG_FRAMES:
            if length < 7 or position + 9 > len(data):
                return None
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            width = int.from_bytes(data[position + 7 : position + 9], "big")
            return width, height
        if length < 2:
            return None
        position += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def check_image_pixels(blobs: Sequence[Blob], field: str = "blobs") -> None:
    """A 400 when the object's images declare more than MAX_OBJECT_IMAGE_PIXELS pixels in all, or
    one's size cannot be read from its header: checked before any of them is decoded."""
    total = 0
    for position, blob in enumerate(blobs):
        if blob.type != "image" or blob.data is None:
            continue
        size = image_size(blob.data)
        if size is None:
            raise BadRequestError(
                f"{field}[{position}]: image '{blob.property}' declares no size its header says "
                "plainly; send a JPEG, PNG or WebP image",
                {"field": f"{field}[{position}]"},
            )
        total += size[0] * size[1]
        if total > limits.MAX_OBJECT_IMAGE_PIXELS:
            raise BadRequestError(
                f"{field}[{position}]: image '{blob.property}' is {size[0]}x{size[1]} pixels, which takes "
                f"the object's images past {limits.MAX_OBJECT_IMAGE_PIXELS} pixels in all "
                f"({limits.MAX_OBJECT_IMAGE_PIXELS // 1_000_000} megapixels); send fewer or smaller images",
                {"field": f"{field}[{position}]", "limit": limits.MAX_OBJECT_IMAGE_PIXELS, "pixels": total},
            )


# ---------------------------------------------------------------------------------------------
# Plain files


def file_extension(name: str, content_type: str | None = None) -> str:
    """The lowercase extension of `name` (`.txt`), else the one its content type implies."""
    base = name.rsplit("/", 1)[-1]
    if "." in base:
        return "." + base.rsplit(".", 1)[-1].lower()
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return _EXTENSION_BY_CONTENT_TYPE.get(media_type, "")


def check_supported_file(name: str, content_type: str | None, field: str) -> str:
    """The file's extension if the extractors can read it, else a 400 naming `field`."""
    extension = file_extension(name, content_type)
    if extension not in SUPPORTED_EXTENSIONS:
        raise BadRequestError(
            f"{field}: unsupported file type {extension or '(no extension)'}; the extractors read "
            f"{', '.join(SUPPORTED_EXTENSIONS)}",
            {"field": field, "supported_extensions": list(SUPPORTED_EXTENSIONS)},
        )
    return extension


def content_type_for(name: str, content_type: str | None) -> str:
    extension = file_extension(name, content_type)
    return (
        _IMAGE_TYPES_BY_EXTENSION.get(extension)
        or _TEXT_TYPES_BY_EXTENSION.get(extension)
        or (content_type or "application/octet-stream")
    )


def file_blob(name: str, data: bytes, content_type: str | None) -> Blob:
    """One plain file as a blob: text files decoded (JSON → its string values), images kept
    encoded (the image model decodes them, and says so if it cannot)."""
    extension = check_supported_file(name, content_type, "file")
    filename = name.rsplit("/", 1)[-1]
    if extension in IMAGE_FILE_EXTENSIONS:
        if sniffed_image_type(data) is None:
            raise BadRequestError(
                f"file '{filename}' is not a JPEG, PNG or WebP image (its first bytes say otherwise)",
                {"file": filename},
            )
        return Blob(FILE_PROPERTY, "image", content_type_for(name, content_type), filename, data=data)
    # The extension may come from the content type alone (a key without one).
    text_name = filename if filename.lower().endswith(extension) else filename + extension
    text = extract_text_from_file(text_name, data)
    return Blob(FILE_PROPERTY, "text", content_type_for(name, content_type), filename, text=text)


# ---------------------------------------------------------------------------------------------
# Manifests (objects API)


def encode_manifest(blobs: list[Blob], metadata: dict[str, Any]) -> bytes:
    encoded: list[dict[str, Any]] = []
    for blob in blobs:
        entry: dict[str, Any] = {
            "property": blob.property,
            "type": blob.type,
            "content_type": blob.content_type,
            "filename": blob.filename,
        }
        if blob.text is not None:
            entry["text"] = blob.text
        else:
            entry["base64"] = base64.b64encode(blob.data or b"").decode("ascii")
        encoded.append(entry)
    document = {"stratus_object": MANIFEST_VERSION, "metadata": metadata, "blobs": encoded}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_manifest(data: bytes) -> tuple[list[Blob], dict[str, Any]]:
    try:
        document = json.loads(data.decode("utf-8"))
        if not isinstance(document, dict) or document.get("stratus_object") != MANIFEST_VERSION:
            raise ValueError("not a version 1 object manifest")
        blobs = [_manifest_blob(entry) for entry in document["blobs"]]
        metadata = document.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError("metadata is not an object")
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise BadRequestError(f"object manifest is unreadable: {error}", {}) from None
    return blobs, metadata


def _manifest_blob(entry: dict[str, Any]) -> Blob:
    blob_type = entry["type"]
    if blob_type not in ("text", "image"):
        raise ValueError(f"unknown blob type {blob_type!r}")
    if blob_type == "text":
        return Blob(
            entry["property"], "text", entry["content_type"], entry.get("filename"), text=str(entry["text"])
        )
    return Blob(
        entry["property"],
        "image",
        entry["content_type"],
        entry.get("filename"),
        data=base64.b64decode(entry["base64"], validate=True),
    )


def is_manifest(stored: StoredBlob) -> bool:
    return stored.key.endswith(MANIFEST_SUFFIX) and stored.metadata.get(MANIFEST_METADATA) == "1"


def blobs_of(stored: StoredBlob) -> tuple[list[Blob], dict[str, Any]]:
    """The blobs and the metadata of a stored object. A plain file's metadata is its S3 user
    metadata (`x-amz-meta-*`), minus Stratus' own entries."""
    if is_manifest(stored):
        blobs, metadata = decode_manifest(stored.data)
    else:
        metadata = {name: value for name, value in stored.metadata.items() if not name.startswith("stratus-")}
        blobs = [file_blob(stored.key, stored.data, stored.content_type)]
    check_image_pixels(blobs)
    return blobs, metadata
