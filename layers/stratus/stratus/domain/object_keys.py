"""How objects, tasks and documents are named from S3 keys.

Every id here is derived, not random: a redelivered event, a retried Lambda or a second worker
computes the same object id for a key, the same task id for (object, etag) and the same
document ids for (object, collection, blob, chunk), so a repeat can only overwrite, never
duplicate."""

from __future__ import annotations

import hashlib
import re

from stratus.errors import BadRequestError

MANIFEST_SUFFIX = ".stratus-object.json"
# Set on manifests written by the objects API; a user's own JSON file is never read as one.
MANIFEST_METADATA = "stratus-manifest"

_DIGEST_LENGTH = 24
# Folder names a client may put in `key_prefix`: printable, no `..`, no leading slash.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9 _.\-=+@,()!']{1,128}$")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]


def object_id_for_key(key: str) -> str:
    return "obj_" + _digest(key)


def task_id_for(object_id: str, etag: str) -> str:
    return "task_" + _digest(f"{object_id}#{etag}")


def document_id_for(object_id: str, collection_id: str, blob_property: str, chunk_index: int) -> str:
    return "doc_" + _digest(f"{object_id}#{collection_id}#{blob_property}#{chunk_index}")


def bucket_prefix_of(key: str) -> str | None:
    """`<storage_key>/<bucket_id>/` of a data-bucket key, None if the key has no such folders."""
    parts = key.split("/", 2)
    if len(parts) < 3 or not parts[0] or not parts[1] or not parts[2]:
        return None
    return f"{parts[0]}/{parts[1]}/"


# Files of uploads made with `create_object_on_confirm: false` wait here, outside every bucket's
# prefix (`<storage_key>/<bucket_id>/`): no bucket owns them, so the extractor leaves them alone
# until a `POST .../objects` blob names the upload.
STAGING_FOLDER = ".uploads"


def staging_prefix(storage_key: str, bucket_id: str) -> str:
    return f"{storage_key}/{STAGING_FOLDER}/{bucket_id}/"


def upload_id_of_key(key: str) -> str | None:
    """The upload id a presigned upload's key carries (`.../<upload_id>/<filename>`), if any."""
    parts = key.split("/")
    return parts[-2] if len(parts) >= 2 and parts[-2].startswith("upl_") else None


def normalized_key_prefix(key_prefix: str | None, field: str = "key_prefix") -> str:
    """`a/b` → `a/b/` (empty → empty). Each folder is a plain name: no `..`, no empty folders."""
    if key_prefix is None or not key_prefix.strip("/"):
        return ""
    segments = key_prefix.strip("/").split("/")
    for segment in segments:
        if segment in (".", "..") or not _SAFE_SEGMENT.match(segment):
            raise BadRequestError(
                f"{field}: folder {segment!r} is not accepted; use letters, digits, spaces and "
                "_ . - = + @ , ( ) ! ' separated by '/', without '.' or '..' folders",
                {"field": field},
            )
    return "/".join(segments) + "/"


def checked_filename(filename: str, field: str = "filename") -> str:
    """A file name (no folders): kept as given if safe, else a 400 naming the field."""
    if "/" in filename or "\\" in filename or filename in (".", "..") or not _SAFE_SEGMENT.match(filename):
        raise BadRequestError(
            f"{field}: {filename!r} is not a plain file name; use letters, digits, spaces and "
            "_ . - = + @ , ( ) ! ' (no folders: put those in key_prefix)",
            {"field": field},
        )
    return filename
