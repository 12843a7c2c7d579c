"""`Embedder` on any HTTP service that answers embeddings: the alternative to running CLIP or
SigLIP in-process, for functions where torch does not fit (a zip Lambda's layer is 250 MB).

The protocol (also in README.md, "Inference services"):

    POST <endpoint_url>            Content-Type: application/json
    {"model": "clip_vit_b32", "inputs": [{"text": "a cat"}, {"image": "<base64 of JPEG/PNG/WebP>"}]}

    200 {"embeddings": [[0.01, ...], ...]}   one per input, in order, `dimension` numbers each
    400 / 413 / 422 {"error": "why", "index": 3}   an input cannot be embedded (`index` optional,
                                                    its position in this request's `inputs`)
    408 / 429 / 5xx                                 transient: retried with backoff, then 503

Vectors are L2-normalised here whatever the service sends, so dot product equals cosine exactly
as with the in-process models. Inputs are never logged nor put in error messages, and neither
is the URL (it may carry a key): errors name the setting instead.

Stdlib `urllib`, not httpx: httpx is no runtime dependency of ours, and the Lambda layer is
size-limited. urllib opens one connection per request, which a batch of 32 inputs amortises.
"""

from __future__ import annotations

import base64
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from http.client import HTTPException
from typing import Any, Literal

from stratus.adapters.inference.service import CatalogueService, service_unavailable
from stratus.adapters.retry import backoff_delay, retry_after_seconds
from stratus.errors import BadRequestError, InferenceServiceUnavailableError

Kind = Literal["text", "image"]

ENDPOINT_SETTINGS: dict[str, str] = {
    "clip": "STRATUS_CLIP_ENDPOINT_URL",
    "siglip": "STRATUS_SIGLIP_ENDPOINT_URL",
}
# Inputs per request: the batch a GPU service likes, small enough to answer well within a timeout.
DEFAULT_BATCH_SIZE = 32
# Raw input bytes per request (base64 adds a third): a batch of 32 large photos would otherwise be
# a request of hundreds of MB. One input over the budget still goes, alone.
MAX_BATCH_BYTES = 6 * 1024 * 1024
# The same per-image limit as the in-process models: refused here, before any upload.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# The API function times out at 29 s: 3 attempts of 8 s plus backoff stay under it.
DEFAULT_TIMEOUT_SECONDS = 8.0
DEFAULT_MAX_ATTEMPTS = 3
# A JSON number takes ~22 bytes; anything far beyond count x dimension x 32 is not an answer.
_RESPONSE_BYTES_PER_NUMBER = 32
_RESPONSE_SLACK_BYTES = 64 * 1024
_ERROR_BODY_BYTES = 64 * 1024
_MAX_REASON_CHARS = 300
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_INPUT_STATUSES = frozenset({400, 413, 422})


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would replay a redirected POST as a body-less GET: surface the 3xx instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class _Transient(Exception):
    """One failed attempt worth another: `reason` for the final 503, the server's hint if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HttpEmbedder(CatalogueService):
    """One catalogue service (`clip_vit_b32`, ...) served by the HTTP endpoint at `endpoint_url`."""

    def __init__(
        self,
        service_name: str,
        dimension: int,
        endpoint_url: str,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        *,
        setting: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        backoff_base_seconds: float = 0.25,
        max_delay_seconds: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if batch_size < 1 or max_batch_bytes < 1:
            raise ValueError(f"batch limits must be positive, got {batch_size} and {max_batch_bytes}")
        if not timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        super().__init__(service_name, dimension)
        self._url = endpoint_url.strip()
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        # The setting an operator changes to fix the endpoint (named in configuration 503s).
        self._setting = setting or "the endpoint URL setting"
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._backoff_base = backoff_base_seconds
        self._max_delay = max_delay_seconds
        self._sleep = sleep

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        sizes = [len(text.encode("utf-8")) for text in texts]
        vectors: list[list[float]] = []
        for start, end in _batches(sizes, self._batch_size, self._max_batch_bytes):
            inputs = [{"text": text} for text in texts[start:end]]
            vectors.extend(self._embed_batch("text", inputs, start))
        return vectors

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        # Every size is checked before the first upload: a bad image 40 fails the call at once.
        for index, data in enumerate(images):
            if len(data) > MAX_IMAGE_BYTES:
                raise BadRequestError(
                    f"image {index} is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} bytes "
                    f"({MAX_IMAGE_BYTES // (1024 * 1024)} MB)",
                    {"index": index, "max_bytes": MAX_IMAGE_BYTES},
                )
        vectors: list[list[float]] = []
        for start, end in _batches([len(data) for data in images], self._batch_size, self._max_batch_bytes):
            # Encoded batch by batch: only one batch's base64 is in memory at a time.
            inputs = [{"image": base64.b64encode(data).decode("ascii")} for data in images[start:end]]
            vectors.extend(self._embed_batch("image", inputs, start))
        return vectors

    # -----------------------------------------------------------------------------------------
    # One request, with retries

    def _embed_batch(self, kind: Kind, inputs: list[dict[str, str]], first: int) -> list[list[float]]:
        url = self._checked_url()
        body = json.dumps({"model": self._name, "inputs": inputs}).encode("utf-8")
        limit = _RESPONSE_SLACK_BYTES + len(inputs) * self._dimension * _RESPONSE_BYTES_PER_NUMBER
        last_reason = "no attempt made"
        delay = self._backoff_delay(1)
        for attempt in range(1, self._max_attempts + 1):
            try:
                answer = self._post(url, body, limit, kind, first, len(inputs))
            except _Transient as failure:
                last_reason = failure.reason
                hinted = failure.retry_after
                delay = self._backoff_delay(attempt) if hinted is None else min(self._max_delay, hinted)
                if attempt < self._max_attempts:
                    self._sleep(delay)
                continue
            return self._vectors_of(answer, len(inputs))
        raise self._unavailable(
            f"{last_reason} after {self._max_attempts} attempts",
            retry_after=delay,
            attempts=self._max_attempts,
        )

    def _post(self, url: str, body: bytes, limit: int, kind: Kind, first: int, count: int) -> bytes:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with _opener.open(request, timeout=self._timeout) as response:
                answer: bytes = response.read(limit + 1)
        except urllib.error.HTTPError as error:
            with error:
                raise self._status_error(error, kind, first, count) from None
        except (TimeoutError, urllib.error.URLError, HTTPException, OSError) as error:
            # URLError wraps refused connections, DNS failures and connect timeouts; a read timeout
            # is a bare TimeoutError; a dropped connection is an HTTPException or OSError.
            raise _Transient(_describe_failure(error)) from None
        except ValueError:  # http.client.InvalidURL (a bad port, a space in the host...)
            raise self._unavailable(f"the endpoint URL is not valid; check {self._setting}") from None
        if len(answer) > limit:
            raise self._unavailable(f"malformed response: more than {limit} bytes")
        return answer

    def _status_error(self, error: urllib.error.HTTPError, kind: Kind, first: int, count: int) -> Exception:
        status = error.code
        if status in _TRANSIENT_STATUSES or status >= 500:
            what = "rate limited" if status == 429 else "server error" if status >= 500 else "busy"
            hint = retry_after_seconds(error.headers.get("Retry-After"))
            return _Transient(f"{what} (HTTP {status})", hint)
        if status in _INPUT_STATUSES:
            reason, index = _error_of(_read_quietly(error))
            where = "the input"
            details: dict[str, Any] = {"service": self._name, "status": status}
            if index is not None and 0 <= index < count:
                # The service counts within this request; the caller counts within its call.
                details["index"] = first + index
                where = f"{kind} {first + index}"
            return BadRequestError(
                f"inference service '{self._name}' rejected {where}: {reason or f'HTTP {status}'}", details
            )
        # 3xx, 401, 403, 404, 405...: the endpoint is misconfigured; retrying will not help.
        return self._unavailable(f"the endpoint answered HTTP {status}; check {self._setting}", status=status)

    def _checked_url(self) -> str:
        parts = urllib.parse.urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._unavailable(f"the endpoint URL is not an http(s) URL; check {self._setting}")
        return self._url

    # -----------------------------------------------------------------------------------------
    # Answers

    def _vectors_of(self, answer: bytes, count: int) -> list[list[float]]:
        try:
            payload = json.loads(answer)
        except ValueError:  # UnicodeDecodeError is one too
            raise self._unavailable("malformed response: not JSON") from None
        embeddings = payload.get("embeddings") if isinstance(payload, dict) else None
        if not isinstance(embeddings, list):
            raise self._unavailable('malformed response: no "embeddings" list')
        if len(embeddings) != count:
            raise self._unavailable(
                f"malformed response: {len(embeddings)} embeddings for {count} inputs",
                got_count=len(embeddings),
                expected_count=count,
            )
        vectors = []
        for embedding in embeddings:
            if not isinstance(embedding, list) or not all(_is_number(value) for value in embedding):
                raise self._unavailable("malformed response: an embedding is not a list of numbers")
            if len(embedding) != self._dimension:
                raise self._unavailable(
                    f"the endpoint returned {len(embedding)}-dimensional vectors, "
                    f"but the service is {self._dimension}-dimensional; check {self._setting}",
                    got_dimension=len(embedding),
                    expected_dimension=self._dimension,
                )
            vectors.append(self._normalized(embedding))
        return vectors

    def _normalized(self, embedding: list[float]) -> list[float]:
        norm = math.sqrt(math.fsum(float(value) * float(value) for value in embedding))
        # NaN or infinity in a vector, or a zero vector: no direction, so nothing to search with.
        if not math.isfinite(norm) or norm == 0.0:
            raise self._unavailable("malformed response: an embedding is zero or not finite")
        return [float(value) / norm for value in embedding]

    # -----------------------------------------------------------------------------------------
    # Backoff and errors

    def _backoff_delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self._backoff_base, self._max_delay)

    def _unavailable(
        self, reason: str, retry_after: float | None = None, **details: Any
    ) -> InferenceServiceUnavailableError:
        return service_unavailable(self._name, reason, {"setting": self._setting, **details}, retry_after)


# ---------------------------------------------------------------------------------------------
# Helpers


def _batches(sizes: Sequence[int], batch_size: int, max_bytes: int) -> Iterator[tuple[int, int]]:
    """[start, end) ranges of consecutive inputs within `batch_size` inputs and `max_bytes`."""
    start, total = 0, 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= batch_size or total + size > max_bytes):
            yield start, index
            start, total = index, 0
        total += size
    if start < len(sizes):
        yield start, len(sizes)


def _is_number(value: object) -> bool:
    # bool is an int to Python, but `true` is no coordinate.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _describe_failure(error: BaseException) -> str:
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, TimeoutError):
        return "request timed out"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, urllib.error.URLError):
        return "could not connect"
    return f"connection failed ({type(error).__name__})"


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(_ERROR_BODY_BYTES)
    except (OSError, HTTPException):
        return b""


def _error_of(body: bytes) -> tuple[str | None, int | None]:
    """The service's reason and input index, from `{"error": "...", "index": n}` or the common
    shapes `{"error": {"message": ..., "index": ...}}` and `{"detail": "..."}`."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    nested = error if isinstance(error, dict) else {}
    reason = next(
        (text for text in (error, nested.get("message"), payload.get("detail")) if isinstance(text, str)),
        None,
    )
    index = payload.get("index", nested.get("index"))
    if reason is not None:
        reason = " ".join(reason.split())[:_MAX_REASON_CHARS] or None
    return reason, index if isinstance(index, int) and not isinstance(index, bool) else None
