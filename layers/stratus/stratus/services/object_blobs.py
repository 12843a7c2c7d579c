"""An object's blobs as the API takes them: inline text or JSON, base64, a data: URI, an https URL,
or a confirmed upload's staged file; checked (unique properties, metadata size) and hashed
(`skip_duplicates`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from stratus import limits
from stratus.domain.content import Blob, file_blob, sniffed_image_type
from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.models.managed_content import Bucket
from stratus.models.objects import BlobInput
from stratus.ports.fetch import UrlFetcher
from stratus.ports.stores import Stores
from stratus.settings import Settings

_DATA_URI_PREFIX = "data:"
_URL_SCHEMES = ("https://", "http://")


def blobs_hash(blobs: list[Blob]) -> str:
    """SHA-256 over an object's blobs (property, type and content; not its metadata)."""
    digest = hashlib.sha256()
    for blob in blobs:
        content = blob.data if blob.data is not None else (blob.text or "").encode("utf-8")
        for part in (blob.property.encode("utf-8"), blob.type.encode("ascii"), content):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


TEXT_BLOB_TYPES = ("text", "string")


def blob_of(
    position: int, blob: BlobInput, stores: Stores, bucket: Bucket, settings: Settings, prefix: str = ""
) -> Blob:
    field = f"{prefix}blobs[{position}].data"
    if blob.type not in (*TEXT_BLOB_TYPES, "image"):
        raise BadRequestError(
            f"{prefix}blobs[{position}].type: '{blob.type}' blobs are not extracted by Stratus; send "
            "text (or string) or image blobs",
            {"field": f"{prefix}blobs[{position}].type", "supported": ["text", "string", "image"]},
        )
    if blob.upload_id is not None:
        return _uploaded_blob(f"{prefix}blobs[{position}].upload_id", blob, stores, bucket, settings)
    if blob.data is None or blob.data == "":
        raise BadRequestError(
            f"{field}: give the blob's data (text, base64, a data: URI or an https URL) or an upload_id",
            {"field": field},
        )
    if blob.type in TEXT_BLOB_TYPES:
        data = blob.data
        if not isinstance(data, str):  # a number, boolean, object or list: its JSON text
            return Blob(blob.property, "text", "application/json", blob.filename, text=json.dumps(data))
        text = data
        if data.startswith(_URL_SCHEMES):
            text = _decoded_text(stores.fetcher.fetch(data, field), field)
        elif data.startswith(_DATA_URI_PREFIX):
            text = _decoded_text(_data_uri_bytes(data, field)[1], field)
        return Blob(blob.property, "text", blob.content_type or "text/plain", blob.filename, text=text)
    if not isinstance(blob.data, str):
        raise BadRequestError(
            f"{field}: an image blob's data is base64, a data: URI or an https URL", {"field": field}
        )
    return image_blob(blob.property, _image_bytes(blob.data, field, stores.fetcher), field, blob.filename)


def image_blob(prop: str, data: bytes, field: str, filename: str | None) -> Blob:
    sniffed = sniffed_image_type(data)
    if sniffed is None:
        raise BadRequestError(
            f"{field}: not a JPEG, PNG or WebP image (checked its first bytes)",
            {"field": field, "accepted": ["image/jpeg", "image/png", "image/webp"]},
        )
    return Blob(prop, "image", sniffed, filename, data=data)


def _uploaded_blob(field: str, blob: BlobInput, stores: Stores, bucket: Bucket, settings: Settings) -> Blob:
    """The file of a confirmed, staged upload (`create_object_on_confirm: false`) as a blob;
    `field` names its upload_id."""
    assert blob.upload_id is not None
    upload = stores.metadata.get_upload(bucket.org_id, bucket.namespace_id, bucket.bucket_id, blob.upload_id)
    if upload is None:
        raise BadRequestError(f"{field}: no upload '{blob.upload_id}' in this bucket", {"field": field})
    if upload.create_object_on_confirm or upload.status != "COMPLETED":
        raise BadRequestError(
            f"{field}: upload '{blob.upload_id}' is not a confirmed upload made with "
            "create_object_on_confirm: false (its file is, or becomes, an object of its own)",
            {"field": field, "status": upload.status},
        )
    stored = stores.blobs.get(upload.s3_key, settings.max_object_bytes)
    if stored is None:
        raise BadRequestError(f"{field}: the file of upload '{blob.upload_id}' is gone", {"field": field})
    if blob.type == "image":
        return image_blob(blob.property, stored.data, field, upload.filename)
    text = file_blob(upload.filename, stored.data, upload.content_type).text or ""
    return Blob(blob.property, "text", upload.content_type, upload.filename, text=text)


def _image_bytes(data: str, field: str, fetcher: UrlFetcher) -> bytes:
    if data.startswith(_URL_SCHEMES):
        return fetcher.fetch(data, field)
    if data.startswith(_DATA_URI_PREFIX):
        return _data_uri_bytes(data, field)[1]
    return _base64(data, field)


def _data_uri_bytes(uri: str, field: str) -> tuple[str, bytes]:
    header, separator, payload = uri.partition(",")
    if not separator or not header.endswith(";base64"):
        raise BadRequestError(
            f"{field}: a data URI must look like data:<mime type>;base64,<data>", {"field": field}
        )
    return header.removeprefix(_DATA_URI_PREFIX).removesuffix(";base64"), _base64(payload, field)


def _base64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"{field}: not valid base64 (send the image as base64, a data: URI or an https URL)",
            {"field": field},
        ) from None


def _decoded_text(data: bytes, field: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequestError(
            f"{field}: the text is not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})",
            {"field": field},
        ) from None


def check_unique_properties(blobs: list[BlobInput], prefix: str = "") -> None:
    seen: dict[str, int] = {}
    for position, blob in enumerate(blobs):
        if blob.property in seen:
            raise BadRequestError(
                f"{prefix}blobs[{position}].property: '{blob.property}' repeats "
                f"{prefix}blobs[{seen[blob.property]}]; each blob of an object needs its own property",
                {"field": f"{prefix}blobs[{position}].property"},
            )
        seen[blob.property] = position


def check_metadata(metadata: dict[str, Any], field: str) -> None:
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode())
    except ValueError:
        raise BadRequestError(f"{field}: non-finite numbers are not accepted", {"field": field}) from None
    if size > limits.MAX_OBJECT_METADATA_BYTES:
        raise PayloadTooLargeError(
            f"{field}: {size} bytes of JSON; an object's metadata holds at most "
            f"{limits.MAX_OBJECT_METADATA_BYTES} bytes (it is copied into every document made from it)",
            {"field": field, "size": size, "limit": limits.MAX_OBJECT_METADATA_BYTES},
        )
