"""`Embedder` on the OpenAI embeddings API (or any OpenAI-compatible server, via `base_url`).

The SDK's own retries are switched off (`max_retries=0`): we retry here so that the backoff is
ours (injectable sleep, capped `Retry-After`) and so that the final failure is always the
retryable `InferenceServiceUnavailableError` of api.md, never an SDK exception.

Wire notes: without `encoding_format` the SDK asks for base64 and decodes it itself; with an
explicit `"base64"` it hands back the base64 string untouched, so we decode that case here.
"""

from __future__ import annotations

import base64
import hmac
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from stratus.adapters.inference.service import CatalogueService, service_unavailable
from stratus.adapters.retry import backoff_delay, retry_after_seconds
from stratus.errors import BadRequestError, InferenceServiceUnavailableError

if TYPE_CHECKING:
    import openai

EncodingFormat = Literal["base64", "float"]

# OpenAI's limits per request: 2048 inputs and 300k tokens summed over the inputs.
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
# Without a tokenizer we assume ~4 characters per token and keep a safety margin.
_CHARS_PER_TOKEN = 4
_TOKEN_BUDGET = int(MAX_TOKENS_PER_REQUEST * 0.9)


class OpenAIEmbedder(CatalogueService):
    """One catalogue service (`openai_text_3_small`, ...) backed by one OpenAI model."""

    def __init__(
        self,
        service_name: str,
        model: str,
        dimension: int,
        api_key_provider: Callable[[], str],
        base_url: str | None,
        batch_size: int = 256,
        max_attempts: int = 4,
        backoff_base_seconds: float = 0.25,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        encoding_format: EncodingFormat | None = None,
        max_delay_seconds: float = 8.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_INPUTS_PER_REQUEST:
            raise ValueError(f"batch_size must be within 1..{MAX_INPUTS_PER_REQUEST}, got {batch_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        super().__init__(service_name, dimension)
        self._model = model
        self._api_key_provider = api_key_provider
        self._base_url = base_url
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_seconds
        self._timeout = timeout_seconds
        self._sleep = sleep
        self._encoding_format = encoding_format
        self._max_delay = max_delay_seconds
        self._lock = threading.Lock()
        self._client: openai.OpenAI | None = None
        self._client_key: str | None = None

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in _batches(texts, self._batch_size, _TOKEN_BUDGET):
            vectors.extend(self._embed_batch(batch))
        return vectors

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise self._text_only()

    # -----------------------------------------------------------------------------------------
    # One request, with retries

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        import openai

        last_reason = "no attempt made"
        delay = self._backoff_delay(1)
        for attempt in range(1, self._max_attempts + 1):
            client = self._client_for(self._api_key())
            try:
                response = self._create(client, batch)
            except (openai.APIConnectionError, openai.APIStatusError) as error:
                # APITimeoutError is an APIConnectionError; those are always transient.
                if isinstance(error, openai.APIStatusError) and not _is_transient(error):
                    raise self._permanent_error(error) from None
                last_reason = _describe_transient(error)
                delay = self._delay_for(error, attempt)
                if attempt < self._max_attempts:
                    self._sleep(delay)
                continue
            except (openai.APIError, ValueError, TypeError) as error:
                # A 2xx the SDK could not parse (e.g. an empty `data`): the server is broken.
                raise self._unavailable(
                    f"malformed response from the provider ({type(error).__name__})"
                ) from None
            return self._vectors_of(response, len(batch))
        raise self._unavailable(
            f"{last_reason} after {self._max_attempts} attempts",
            retry_after=delay,
            attempts=self._max_attempts,
        )

    def _create(self, client: openai.OpenAI, batch: list[str]) -> Any:
        if self._encoding_format is None:
            # Let the SDK default stand: it asks for base64 (a third of the bytes) and decodes.
            return client.embeddings.create(model=self._model, input=batch)
        return client.embeddings.create(model=self._model, input=batch, encoding_format=self._encoding_format)

    def _api_key(self) -> str:
        key = self._api_key_provider()
        if not key:
            # The SDK would raise its own OpenAIError (a 500); this is a configuration 503.
            raise self._unavailable("the configured API key is empty")
        return key

    def _client_for(self, api_key: str) -> openai.OpenAI:
        """The cached client, rebuilt when the key changes (a rotated secret)."""
        with self._lock:
            # Constant time, as every comparison of a secret (tests/security/test_api_keys_at_rest.py).
            if (
                self._client is None
                or self._client_key is None
                or not hmac.compare_digest(self._client_key.encode(), api_key.encode())
            ):
                import openai

                self._client = openai.OpenAI(
                    api_key=api_key, base_url=self._base_url, max_retries=0, timeout=self._timeout
                )
                self._client_key = api_key
            return self._client

    def _forget_client(self) -> None:
        with self._lock:
            self._client = None
            self._client_key = None

    # -----------------------------------------------------------------------------------------
    # Backoff

    def _backoff_delay(self, attempt: int) -> float:
        return backoff_delay(attempt, self._backoff_base, self._max_delay)

    def _delay_for(self, error: Exception, attempt: int) -> float:
        hinted = _retry_after_seconds(error)
        if hinted is not None:
            return min(self._max_delay, max(0.0, hinted))
        return self._backoff_delay(attempt)

    # -----------------------------------------------------------------------------------------
    # Responses and errors

    def _vectors_of(self, response: Any, expected_count: int) -> list[list[float]]:
        data = list(response.data)
        indexes = sorted(int(item.index) for item in data)
        if indexes != list(range(expected_count)):
            raise self._unavailable(
                f"malformed response: expected embeddings indexed 0..{expected_count - 1}, "
                f"got {len(data)} with indexes {indexes[:5]}{'...' if len(indexes) > 5 else ''}"
            )
        vectors: list[list[float]] = [[] for _ in range(expected_count)]
        for item in data:
            try:
                vector = _as_floats(item.embedding)
            except (TypeError, ValueError) as error:  # binascii.Error is a ValueError
                raise self._unavailable(f"malformed response: undecodable embedding ({error})") from None
            if len(vector) != self._dimension:
                raise self._unavailable(
                    f"model '{self._model}' returned {len(vector)}-dimensional vectors, "
                    f"expected {self._dimension}",
                    got_dimension=len(vector),
                    expected_dimension=self._dimension,
                )
            vectors[int(item.index)] = vector
        return vectors

    def _permanent_error(self, error: openai.APIStatusError) -> Exception:
        status = error.status_code
        if status in (401, 403):
            # The provider's message may echo part of the key: never pass it on.
            self._forget_client()
            return self._unavailable(
                f"the provider rejected the API key (HTTP {status}); check the configured key",
                status=status,
            )
        if status == 404:
            return self._unavailable(
                f"model '{self._model}' was not found at the provider (HTTP 404)", status=status
            )
        if status in (400, 413, 422):
            return BadRequestError(
                f"inference service '{self._name}' rejected the input: {self._provider_message(error)}",
                {"service": self._name, "status": status},
            )
        return self._unavailable(f"unexpected HTTP {status} from the provider", status=status)

    def _provider_message(self, error: openai.APIStatusError) -> str:
        body = error.body
        message = body.get("message") if isinstance(body, dict) else None
        text = message if isinstance(message, str) and message else f"HTTP {error.status_code}"
        key = self._client_key
        return text.replace(key, "***") if key else text

    def _unavailable(
        self, reason: str, retry_after: float | None = None, **details: Any
    ) -> InferenceServiceUnavailableError:
        return service_unavailable(self._name, reason, {"model": self._model, **details}, retry_after)


# ---------------------------------------------------------------------------------------------
# Helpers


def _batches(texts: Sequence[str], batch_size: int, token_budget: int) -> Iterator[list[str]]:
    """Consecutive runs of `texts` within `batch_size` inputs and ~`token_budget` tokens."""
    batch: list[str] = []
    tokens = 0
    for text in texts:
        estimate = len(text) // _CHARS_PER_TOKEN + 1
        if batch and (len(batch) >= batch_size or tokens + estimate > token_budget):
            yield batch
            batch, tokens = [], 0
        batch.append(text)
        tokens += estimate
    if batch:
        yield batch


def _as_floats(embedding: object) -> list[float]:
    if isinstance(embedding, str):
        # An explicit encoding_format="base64" is not decoded by the SDK: little-endian float32.
        return np.frombuffer(base64.b64decode(embedding), dtype="<f4").astype(float).tolist()  # type: ignore[no-any-return]
    if isinstance(embedding, list):
        return [float(value) for value in embedding]
    raise TypeError(f"unexpected embedding payload of type {type(embedding).__name__}")


def _is_transient(error: Exception) -> bool:
    """Worth another attempt: what the SDK itself would retry, with the server's word first."""
    import openai

    if not isinstance(error, openai.APIStatusError):
        return isinstance(error, openai.APIConnectionError)
    should_retry = error.response.headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        return should_retry == "true"
    return error.status_code in (408, 409, 429) or error.status_code >= 500


def _describe_transient(error: Exception) -> str:
    import openai

    if isinstance(error, openai.APITimeoutError):
        return "request timed out"
    if isinstance(error, openai.APIConnectionError):
        return "could not connect"
    if isinstance(error, openai.RateLimitError):
        return "rate limited (HTTP 429)"
    if isinstance(error, openai.APIStatusError):
        kind = "server error" if error.status_code >= 500 else "transient error"
        return f"{kind} (HTTP {error.status_code})"
    return type(error).__name__


def _retry_after_seconds(error: Exception) -> float | None:
    """The server's `retry-after-ms` / `Retry-After` (seconds or HTTP date), if any."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    return retry_after_seconds(headers.get("retry-after"))
