"""Where model weights live: a local directory, or an `s3://bucket/prefix` mirrored once per process.

`transformers` loads from a directory only (`from_pretrained(dir, local_files_only=True)`); the
Hub is never asked. A deployed function keeps the weights in S3 and mirrors them into its
ephemeral storage (`/tmp` on Lambda) on first use; a warm container reuses the copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus.errors import InferenceServiceUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_SCHEME = "s3://"
ENDPOINT_ENV = "STRATUS_AWS_ENDPOINT_URL"

# A full Hub snapshot also carries the TensorFlow, Flax and ONNX exports: gigabytes that the
# PyTorch loader never reads and that would not fit a Lambda's ephemeral storage anyway.
_UNUSED_SUFFIXES = (".h5", ".msgpack", ".onnx", ".tflite", ".ot")
_PYTORCH_BIN = "pytorch_model.bin"

_mirrors: dict[str, Path] = {}
_mirror_lock = threading.Lock()


def local_weights_dir(uri: str) -> Path:
    """The local directory holding the weights named by `uri` (a path or `s3://bucket/prefix`).

    Raises `InferenceServiceUnavailableError` (503) when the path does not exist or S3 cannot be
    read; nothing is cached on failure, so the next call tries again."""
    uri = uri.strip()
    if not uri:
        raise _unavailable("no weights location is configured")
    if uri.startswith(S3_SCHEME):
        return _s3_mirror(uri)
    path = Path(uri.removeprefix("file://")).expanduser()
    if not path.is_dir():
        raise _unavailable(f"the weights directory '{path}' does not exist")
    return path


def _s3_mirror(uri: str) -> Path:
    cached = _mirrors.get(uri)
    if cached is not None and cached.is_dir():
        return cached
    # One download at a time: two concurrent first requests must not both fetch ~600 MB.
    with _mirror_lock:
        cached = _mirrors.get(uri)
        if cached is None or not cached.is_dir():  # /tmp may have been cleaned under us
            cached = _mirrors[uri] = _download(uri)
    return cached


def _download(uri: str) -> Path:
    bucket, prefix = _parse_s3_uri(uri)
    target = Path(tempfile.mkdtemp(prefix="stratus-weights-"))
    try:
        count = _download_objects(_s3_client(), bucket, prefix, target)
    except InferenceServiceUnavailableError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    except Exception as error:  # botocore's ClientError / BotoCoreError, or a full disk (OSError)
        shutil.rmtree(target, ignore_errors=True)
        reason = f"could not download the weights from {uri} ({type(error).__name__}: {error})"
        raise _unavailable(reason) from None
    if count == 0:
        shutil.rmtree(target, ignore_errors=True)
        raise _unavailable(f"no objects found under {uri}")
    return target


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix(S3_SCHEME).partition("/")
    if not bucket:
        raise _unavailable(f"'{uri}' names no bucket; expected s3://bucket/prefix")
    # A trailing slash keeps `models/clip` from also matching `models/clip-large/...`.
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _s3_client() -> S3Client:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get(ENDPOINT_ENV) or None)


def _download_objects(client: S3Client, bucket: str, prefix: str, target: Path) -> int:
    keys = _object_keys(client, bucket, prefix)
    has_safetensors = any(key.endswith(".safetensors") for key in keys)
    root = target.resolve()
    count = 0
    for key in keys:
        relative = key[len(prefix) :]
        if _unused(relative, has_safetensors):
            continue
        destination = (root / relative).resolve()
        if not destination.is_relative_to(root):  # a key like `../x` must not escape the mirror
            raise _unavailable(f"refusing object key '{key}': it points outside the weights directory")
        destination.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(destination))
        count += 1
    return count


def _object_keys(client: S3Client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    page: Any
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key != prefix and not key.endswith("/"):  # skip "folder" marker objects
                keys.append(key)
    return keys


def _unused(relative: str, has_safetensors: bool) -> bool:
    name = relative.rsplit("/", 1)[-1]
    if name.endswith(_UNUSED_SUFFIXES):
        return True
    # The same weights twice: the loader prefers safetensors, so the pickle is dead weight.
    return has_safetensors and name == _PYTORCH_BIN


def _unavailable(reason: str) -> InferenceServiceUnavailableError:
    return InferenceServiceUnavailableError(f"model weights are unavailable: {reason}", {"reason": reason})
