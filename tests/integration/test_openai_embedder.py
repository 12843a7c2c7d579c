"""OpenAIEmbedder with the real `openai` SDK against the loopback OpenAI server (no network)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from stratus.adapters.inference.openai import OpenAIEmbedder, _batches
from stratus.adapters.secrets import api_key_from
from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from tests.loopback_openai import LoopbackOpenAI, expected_vector

API_KEY = "sk-loopback-0123456789abcdef"
SMALL = "text-embedding-3-small"


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[LoopbackOpenAI]:
    with LoopbackOpenAI(api_key=API_KEY) as running:
        yield running


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make_embedder(server: LoopbackOpenAI, sleep: FakeSleep) -> Callable[..., OpenAIEmbedder]:
    def make(**overrides: object) -> OpenAIEmbedder:
        options: dict[str, object] = {
            "service_name": "openai_text_3_small",
            "model": SMALL,
            "dimension": 1536,
            "api_key_provider": lambda: API_KEY,
            "base_url": server.base_url,
            "sleep": sleep,
            "timeout_seconds": 5.0,
        }
        options.update(overrides)
        return OpenAIEmbedder(**options)  # type: ignore[arg-type]

    return make


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Encodings


def test_sdk_default_asks_for_base64_and_decodes_exactly(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    texts = ["hello world", "the quick brown fox", "ünïcödé ✓"]
    vectors = make_embedder().embed_texts(texts)

    assert vectors == [expected_vector(text, 1536) for text in texts]
    (request,) = server.requests
    assert request.encoding_format == "base64"  # the SDK's default, not ours
    assert request.path == "/v1/embeddings"
    assert request.model == SMALL
    assert request.inputs == texts
    assert request.authorization == f"Bearer {API_KEY}"
    assert "dimensions" not in request.body


def test_float_encoding_decodes_exactly(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    texts = ["alpha", "beta"]
    vectors = make_embedder(encoding_format="float").embed_texts(texts)

    assert vectors == [expected_vector(text, 1536) for text in texts]
    assert [request.encoding_format for request in server.requests] == ["float"]


def test_explicit_base64_is_decoded_by_the_adapter(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    # With an explicit "base64" the SDK returns the raw string; the adapter decodes it.
    vectors = make_embedder(encoding_format="base64").embed_texts(["gamma"])

    assert vectors == [expected_vector("gamma", 1536)]
    assert [request.encoding_format for request in server.requests] == ["base64"]


def test_server_answering_floats_to_a_base64_request(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    server.force_encoding = "float"  # some OpenAI-compatible servers ignore encoding_format

    assert make_embedder().embed_texts(["delta"]) == [expected_vector("delta", 1536)]


def test_base_url_without_v1_and_large_model(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    embedder = make_embedder(
        service_name="openai_text_3_large",
        model="text-embedding-3-large",
        dimension=3072,
        base_url=server.root_url,
    )

    assert embedder.embed_texts(["epsilon"]) == [expected_vector("epsilon", 3072)]
    assert [request.path for request in server.requests] == ["/embeddings"]
    assert (embedder.name, embedder.dimension) == ("openai_text_3_large", 3072)


def test_no_texts_no_request(server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]) -> None:
    assert make_embedder().embed_texts([]) == []
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# Batching


def test_batches_of_batch_size_keep_order(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    texts = [f"document number {i}" for i in range(600)]
    vectors = make_embedder(batch_size=256).embed_texts(texts)

    assert [len(request.inputs) for request in server.requests] == [256, 256, 88]
    assert [text for request in server.requests for text in request.inputs] == texts
    assert vectors == [expected_vector(text, 1536) for text in texts]


def test_batches_respect_the_token_budget(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    # ~100k tokens each (4 chars per token): two fit under 300k, three do not.
    texts = [letter * 400_000 for letter in "xyz"]
    vectors = make_embedder().embed_texts(texts)

    assert [len(request.inputs) for request in server.requests] == [2, 1]
    assert vectors == [expected_vector(text, 1536) for text in texts]


def test_batches_helper() -> None:
    assert list(_batches(["a"] * 5, 2, 1000)) == [["a", "a"], ["a", "a"], ["a"]]
    # A single text over the budget still goes alone (the provider judges it).
    assert list(_batches(["b" * 100, "c"], 10, 5)) == [["b" * 100], ["c"]]
    assert list(_batches([], 10, 10)) == []


# ---------------------------------------------------------------------------------------------
# Retries


def test_500_then_success_is_retried(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(1, status=500)

    assert make_embedder().embed_texts(["zeta"]) == [expected_vector("zeta", 1536)]
    assert len(server.requests) == 2
    (delay,) = sleep.delays
    assert 0.125 <= delay <= 0.25


def test_persistent_500_is_a_retryable_503_with_growing_backoff(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(10, status=500)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(max_attempts=4).embed_texts(["eta"])

    error = caught.value
    assert error.status == 503
    assert error.message.startswith("inference service 'openai_text_3_small' is unavailable: ")
    assert "HTTP 500" in error.message
    assert error.details["service"] == "openai_text_3_small"
    assert error.retry_after is not None and error.retry_after >= 1
    assert len(server.requests) == 4
    # Three sleeps between four attempts, each within its band [b·2^(k-1)/2, b·2^(k-1)].
    assert len(sleep.delays) == 3
    for attempt, delay in enumerate(sleep.delays, start=1):
        ceiling = 0.25 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling
    assert sleep.delays == sorted(sleep.delays)
    assert sleep.delays[-1] > sleep.delays[0]


@pytest.mark.parametrize("status", [502, 503, 408, 409])
def test_other_transient_statuses_are_retried(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep, status: int
) -> None:
    server.fail_next(1, status=status)

    assert make_embedder().embed_texts(["upsilon"]) == [expected_vector("upsilon", 1536)]
    assert len(server.requests) == 2


def test_x_should_retry_false_is_obeyed(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(1, status=500, headers={"x-should-retry": "false"})

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder().embed_texts(["phi"])

    assert "HTTP 500" in caught.value.message
    assert len(server.requests) == 1 and sleep.delays == []


def test_429_retry_after_is_honoured(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(1, status=429, retry_after=2)

    assert make_embedder().embed_texts(["theta"]) == [expected_vector("theta", 1536)]
    assert sleep.delays == [2.0]


def test_retry_after_is_capped_and_reported(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(2, status=429, retry_after=120)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(max_attempts=2, max_delay_seconds=3.0).embed_texts(["iota"])

    assert sleep.delays == [3.0]
    assert "429" in caught.value.message
    assert caught.value.retry_after == 3


def test_hang_longer_than_timeout_is_retried_then_503(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.hang_next(2, seconds=5)
    started = time.monotonic()

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(max_attempts=2, timeout_seconds=0.3).embed_texts(["kappa"])

    assert time.monotonic() - started < 4  # two timeouts, not two hangs
    assert "timed out" in caught.value.message
    assert len(server.requests) == 2
    assert len(sleep.delays) == 1


def test_hang_then_success(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    server.hang_next(1, seconds=5)

    assert make_embedder(timeout_seconds=0.3).embed_texts(["lambda"]) == [expected_vector("lambda", 1536)]
    assert len(sleep.delays) == 1


def test_connection_refused_is_a_503(make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep) -> None:
    embedder = make_embedder(base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_attempts=3)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(["mu"])

    assert "could not connect" in caught.value.message
    assert len(sleep.delays) == 2


# ---------------------------------------------------------------------------------------------
# Permanent errors


def test_wrong_key_is_a_503_that_never_shows_the_key(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], sleep: FakeSleep
) -> None:
    wrong = "sk-wrong-key-should-never-leak-42"

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(api_key_provider=lambda: wrong).embed_texts(["nu"])

    error = caught.value
    assert "API key" in error.message and "401" in error.message
    for text in (error.message, str(error), json.dumps(error.details)):
        assert wrong not in text
        assert "never-leak" not in text
    assert error.__cause__ is None and error.__suppress_context__
    assert len(server.requests) == 1  # not retried
    assert sleep.delays == []


def test_rotated_key_rebuilds_the_client(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    keys = iter(["sk-old-key", API_KEY])
    embedder = make_embedder(api_key_provider=lambda: next(keys))

    with pytest.raises(InferenceServiceUnavailableError):
        embedder.embed_texts(["xi"])
    assert embedder.embed_texts(["xi"]) == [expected_vector("xi", 1536)]
    assert [request.authorization for request in server.requests] == [
        "Bearer sk-old-key",
        f"Bearer {API_KEY}",
    ]


def test_bad_input_is_a_400(server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]) -> None:
    with pytest.raises(BadRequestError) as caught:
        make_embedder().embed_texts(["fine", ""])

    assert caught.value.status == 400
    assert "'$.input' is invalid" in caught.value.message
    assert len(server.requests) == 1


def test_unknown_model_is_a_503(server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]) -> None:
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(model="text-embedding-9").embed_texts(["omicron"])

    assert "text-embedding-9" in caught.value.message and "404" in caught.value.message


def test_wrong_dimension_from_server_is_an_error(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    server.dimensions[SMALL] = 1000

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder().embed_texts(["pi"])

    error = caught.value
    assert "openai_text_3_small" in error.message
    assert "1000" in error.message and "1536" in error.message
    assert (error.details["got_dimension"], error.details["expected_dimension"]) == (1000, 1536)


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "data": [], "model": SMALL, "usage": {"prompt_tokens": 0, "total_tokens": 0}},
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 5, "embedding": [0.0] * 1536}],
            "model": SMALL,
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        },
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": "abc"}],  # 2 bytes: no float32
            "model": SMALL,
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        },
    ],
    ids=["no-data", "wrong-index", "bad-base64"],
)
def test_malformed_success_is_a_503(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder], body: dict[str, object]
) -> None:
    server.respond_next(1, body)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(encoding_format="float").embed_texts(["chi"])

    assert "malformed response" in caught.value.message
    assert len(server.requests) == 1


def test_empty_data_on_the_sdk_default_path_is_a_503(
    server: LoopbackOpenAI, make_embedder: Callable[..., OpenAIEmbedder]
) -> None:
    # On the default (base64) path the SDK itself raises ValueError("No embedding data received").
    server.respond_next(1, {"object": "list", "data": [], "model": SMALL, "usage": {}})

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder().embed_texts(["psi"])

    assert "malformed response" in caught.value.message


# ---------------------------------------------------------------------------------------------
# API keys (stratus.adapters.secrets)


def test_key_from_env_wins() -> None:
    provider = api_key_from(" sk-env ", "arn:aws:secretsmanager:us-east-1:1:secret:unused")
    assert provider() == "sk-env"


def test_missing_key_names_the_settings(make_embedder: Callable[..., OpenAIEmbedder]) -> None:
    provider = api_key_from(None, None, service="openai_text_3_small")
    embedder = make_embedder(api_key_provider=provider)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(["rho"])

    assert "STRATUS_OPENAI_API_KEY" in caught.value.message
    assert "STRATUS_OPENAI_API_KEY_SECRET_ARN" in caught.value.message


def test_blank_key_is_a_503(make_embedder: Callable[..., OpenAIEmbedder]) -> None:
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(api_key_provider=api_key_from("  ", None)).embed_texts(["tau"])
    assert "STRATUS_OPENAI_API_KEY" in caught.value.message

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make_embedder(api_key_provider=lambda: "").embed_texts(["tau"])
    assert "empty" in caught.value.message


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stratus/openai-AbCdEf"


def _failing(arn: str, max_age: int) -> str:
    raise RuntimeError("AccessDenied for secret value sk-leaky")


def test_unreadable_secret_is_a_503() -> None:
    provider = api_key_from(None, "arn:secret", service="svc", fetch_secret=_failing)
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        provider()

    assert "RuntimeError" in caught.value.message and "sk-leaky" not in caught.value.message


@pytest.mark.parametrize(
    ("fetch", "reason"),
    [(_failing, "reason=RuntimeError"), (lambda arn, max_age: '{"api_key": ""}', "reason=empty")],
)
def test_an_unusable_secret_logs_its_arn_and_never_answers_it(
    fetch: Callable[[str, int], str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    provider = api_key_from(None, SECRET_ARN, service="openai_text_3_small", fetch_secret=fetch)
    with (
        caplog.at_level("WARNING", logger="stratus.adapters.secrets"),
        pytest.raises(InferenceServiceUnavailableError) as caught,
    ):
        provider()

    answered = json.dumps({"message": caught.value.message, "details": caught.value.details})
    assert "arn:" not in answered and "123456789012" not in answered, answered
    assert caught.value.details == {"service": "openai_text_3_small"}
    (record,) = caplog.records
    assert SECRET_ARN in record.getMessage() and reason in record.getMessage()


@pytest.mark.parametrize(
    ("secret", "key"),
    [("sk-plain\n", "sk-plain"), ('{"api_key": "sk-json"}', "sk-json"), ('{"whatever": "sk-one"}', "sk-one")],
)
def test_secret_string_forms(secret: str, key: str) -> None:
    provider = api_key_from(None, "arn:secret", fetch_secret=lambda arn, max_age: secret)
    assert provider() == key


def test_key_from_secrets_manager_end_to_end(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, server: LoopbackOpenAI, sleep: FakeSleep
) -> None:
    import boto3
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from moto import mock_aws

    with mock_aws():
        # Powertools keeps one provider (and its boto3 client) per process; build it in the mock.
        monkeypatch.delitem(DEFAULT_PROVIDERS, "secrets", raising=False)
        arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="stratus/openai", SecretString=json.dumps({"api_key": API_KEY})
        )["ARN"]
        embedder = OpenAIEmbedder(
            "openai_text_3_small", SMALL, 1536, api_key_from(None, arn), server.base_url, sleep=sleep
        )

        assert embedder.embed_texts(["sigma"]) == [expected_vector("sigma", 1536)]
    monkeypatch.delitem(DEFAULT_PROVIDERS, "secrets", raising=False)
