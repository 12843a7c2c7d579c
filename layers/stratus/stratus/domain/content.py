"""A stored object as blobs: the objects API's manifest, or one plain file (text or image).

Errors here are the object's fault (undecodable, unsupported type): `BadRequestError`s whose
message becomes the object's `error`, and a retry cannot fix them."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from stratus.chunking import extract_text_from_file
from stratus.domain.object_keys import MANIFEST_METADATA, MANIFEST_SUFFIX
from stratus.errors import BadRequestError
from stratus.extractor_catalogue import IMAGE_FILE_EXTENSIONS, TEXT_FILE_EXTENSIONS
from stratus.models.managed_content import BlobSummary, BlobType
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
        return decode_manifest(stored.data)
    metadata = {name: value for name, value in stored.metadata.items() if not name.startswith("stratus-")}
    return [file_blob(stored.key, stored.data, stored.content_type)], metadata
