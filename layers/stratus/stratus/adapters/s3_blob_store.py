"""`BlobStore` on the data S3 bucket: each Stratus bucket is a prefix `<storage_key>/<bucket_id>/`.

Objects written here raise the S3 → SQS event the extractor consumes, whoever writes them (the
objects API, a presigned PUT, `aws s3 cp`)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from stratus.errors import BlobStoreUnavailableError, PayloadTooLargeError
from stratus.ports import StoredBlob

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=10,
    retries={"mode": "standard"},
    # Presigned URLs must be SigV4 (the only kind every region accepts) and path-style locally,
    # where the emulator has no per-bucket DNS names.
    signature_version="s3v4",
)
_UNAVAILABLE_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "503", "500"}
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def _unavailable(cause: Exception) -> BlobStoreUnavailableError:
    return BlobStoreUnavailableError(
        "the data bucket is temporarily unavailable; retry the request",
        {"dependency": "s3", "reason": type(cause).__name__},
    )


def maps_s3_faults(method: Callable[P, R]) -> Callable[P, R]:
    """Connection failures, timeouts and throttling become a retryable 503; anything else (a
    missing bucket, denied access) is a misconfiguration and propagates."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (BotocoreConnectionError, HTTPClientError) as error:
            raise _unavailable(error) from error
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _UNAVAILABLE_CODES:
                raise _unavailable(error) from error
            raise

    return wrapper


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client: Any | None = None,
    ) -> None:
        self._bucket = bucket
        self._endpoint_url = endpoint_url
        self._region = region
        self._client = client
        self._lock = threading.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    config = DEFAULT_CLIENT_CONFIG
                    if self._endpoint_url:
                        config = config.merge(Config(s3={"addressing_style": "path"}))
                    self._client = boto3.session.Session().client(
                        "s3", region_name=self._region, endpoint_url=self._endpoint_url, config=config
                    )
        return self._client

    @maps_s3_faults
    def put(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> str:
        response = self.client.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=content_type, Metadata=dict(metadata)
        )
        return str(response.get("ETag", "")).strip('"')

    @maps_s3_faults
    def get(self, key: str, max_bytes: int) -> StoredBlob | None:
        try:
            response = self.client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in _NOT_FOUND_CODES:
                return None
            raise
        body = response["Body"]
        try:
            size = int(response.get("ContentLength", 0))
            if size > max_bytes:
                raise PayloadTooLargeError(
                    f"object is {size} bytes; the extractor reads at most {max_bytes} bytes",
                    {"size": size, "limit": max_bytes},
                )
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:  # no Content-Length to trust
            raise PayloadTooLargeError(
                f"object exceeds {max_bytes} bytes, the most the extractor reads", {"limit": max_bytes}
            )
        return StoredBlob(
            key=key,
            data=data,
            content_type=str(response.get("ContentType") or "application/octet-stream"),
            etag=str(response.get("ETag", "")).strip('"'),
            metadata={name.lower(): value for name, value in (response.get("Metadata") or {}).items()},
        )

    @maps_s3_faults
    def presign_put(
        self, key: str, content_type: str, expires_seconds: int, content_length: int | None = None
    ) -> str:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key, "ContentType": content_type}
        if content_length is not None:
            # Signed (X-Amz-SignedHeaders): S3 refuses a PUT of any other length.
            params["ContentLength"] = content_length
        url: str = self.client.generate_presigned_url(
            "put_object", Params=params, ExpiresIn=expires_seconds, HttpMethod="PUT"
        )
        return url

    @maps_s3_faults
    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self._bucket, Key=key)  # no error when it is gone

    @maps_s3_faults
    def delete_prefix(self, prefix: str) -> int:
        if not prefix or not prefix.endswith("/"):
            # A guard against deleting a whole bucket or a sibling prefix by a caller's slip.
            raise ValueError(f"refusing to delete prefix {prefix!r}: it must be a non-empty folder")
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
