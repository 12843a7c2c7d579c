"""HttpEmbedder against the loopback embeddings server, itself backed by the real in-process
embedder on a tiny random CLIP (`tests.tiny_image_text_models`): the endpoint path must give the
in-process vectors, and every failure of the far end must become a 400 or a retryable 503."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import math
import socket
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stratus.adapters.inference.http import MAX_IMAGE_BYTES, HttpEmbedder
from stratus.adapters.inference.image_text import HuggingFaceImageTextEmbedder
from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from tests.loopback_embeddings import LoopbackEmbeddings
from tests.tiny_image_text_models import CLIP_DIMENSION, build_tiny_clip
from tests.wiring import container_from_environment

_MISSING = [name for name in ("torch", "transformers", "PIL") if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f'needs pip install -e ".[local-models]" (missing: {", ".join(_MISSING)})'
)

SERVICE = "clip_vit_b32"
SETTING = "STRATUS_CLIP_ENDPOINT_URL"
TEXTS = ["a photo of a cat", "a red square", "ünïcödé ✓ text"]
_ENV = (
    "STRATUS_CLIP_ENDPOINT_URL",
    "STRATUS_SIGLIP_ENDPOINT_URL",
    "STRATUS_CLIP_WEIGHTS_URI",
    "STRATUS_SIGLIP_WEIGHTS_URI",
)


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> HuggingFaceImageTextEmbedder:
    weights = build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
    embedder = HuggingFaceImageTextEmbedder(SERVICE, "clip", CLIP_DIMENSION, str(weights))
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="module")
def running_server(in_process: HuggingFaceImageTextEmbedder) -> Iterator[LoopbackEmbeddings]:
    with LoopbackEmbeddings({SERVICE: in_process}) as server:
        yield server


@pytest.fixture
def server(running_server: LoopbackEmbeddings) -> Iterator[LoopbackEmbeddings]:
    running_server.reset()
    yield running_server
    running_server.reset()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def make(server: LoopbackEmbeddings, sleep: FakeSleep) -> Callable[..., HttpEmbedder]:
    def build(**overrides: object) -> HttpEmbedder:
        options: dict[str, object] = {
            "service_name": SERVICE,
            "dimension": CLIP_DIMENSION,
            "endpoint_url": server.url,
            "timeout_seconds": 5.0,
            "max_attempts": 3,
            "setting": SETTING,
            "sleep": sleep,
        }
        options.update(overrides)
        return HttpEmbedder(**options)  # type: ignore[arg-type]

    return build


# ---------------------------------------------------------------------------------------------
# Helpers


def _image(fmt: str, color: tuple[int, int, int], size: tuple[int, int] = (48, 40)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, color)
    for offset in range(min(size)):  # a stripe, so the picture is not flat
        image.putpixel((offset, offset), (255 - color[0], 255 - color[1], 255 - color[2]))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _max_difference(a: list[list[float]], b: list[list[float]]) -> float:
    assert len(a) == len(b)
    assert all(len(x) == len(y) for x, y in zip(a, b, strict=True))
    return max(abs(p - q) for x, y in zip(a, b, strict=True) for p, q in zip(x, y, strict=True))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# The same vectors as in-process


def test_texts_come_back_as_the_in_process_vectors(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    vectors = make().embed_texts(TEXTS)

    assert _max_difference(vectors, in_process.embed_texts(TEXTS)) < 1e-6
    (request,) = server.requests
    assert request.model == SERVICE
    assert request.kinds == ["text"] * len(TEXTS)


def test_images_come_back_as_the_in_process_vectors(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    images = [_image("PNG", (10, 200, 30)), _image("JPEG", (200, 10, 30)), _image("WEBP", (0, 0, 250))]

    vectors = make().embed_images(images)

    assert _max_difference(vectors, in_process.embed_images(images)) < 1e-6
    assert all(math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-6) for vector in vectors)
    assert server.requests[0].kinds == ["image"] * 3


def test_vectors_that_are_not_unit_length_are_normalised(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    server.scale_next(1, factor=7.5)

    vectors = make().embed_texts(TEXTS)

    assert _max_difference(vectors, in_process.embed_texts(TEXTS)) < 1e-6


def test_an_empty_call_sends_nothing(server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder]) -> None:
    embedder = make()

    assert embedder.embed_texts([]) == []
    assert embedder.embed_images([]) == []
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# Batches


def test_many_texts_go_in_batches_of_32_in_order(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    texts = [f"caption number {i}" for i in range(70)]

    vectors = make().embed_texts(texts)

    assert [len(request.kinds) for request in server.requests] == [32, 32, 6]
    # Other batch compositions pad differently: equal to float noise, and in input order.
    assert _max_difference(vectors, in_process.embed_texts(texts)) < 1e-5


def test_image_batches_also_stay_within_a_byte_budget(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    # BMP is uncompressed: five pictures, five different images of exactly the same size.
    images = [_image("BMP", (i * 40, 255 - i * 40, 90)) for i in range(5)]
    assert len({len(image) for image in images}) == 1
    budget = 2 * len(images[0])  # room for two per request, never three

    vectors = make(max_batch_bytes=budget).embed_images(images)

    assert [len(request.kinds) for request in server.requests] == [2, 2, 1]
    assert _max_difference(vectors, in_process.embed_images(images)) < 1e-5


# ---------------------------------------------------------------------------------------------
# Outages: retried, then a 503


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_failures_are_retried(
    server: LoopbackEmbeddings,
    make: Callable[..., HttpEmbedder],
    sleep: FakeSleep,
    in_process: HuggingFaceImageTextEmbedder,
    status: int,
) -> None:
    server.fail_next(2, status=status)

    vectors = make().embed_texts(TEXTS)

    assert len(server.requests) == 3
    assert len(sleep.delays) == 2
    assert _max_difference(vectors, in_process.embed_texts(TEXTS)) < 1e-6


def test_an_outage_is_a_503_after_bounded_attempts_with_growing_backoff(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], sleep: FakeSleep
) -> None:
    server.fail_next(10, status=503)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make(max_attempts=3).embed_texts(TEXTS)

    assert len(server.requests) == 3
    assert len(sleep.delays) == 2 and 0 < sleep.delays[0] <= sleep.delays[1]
    error = caught.value
    assert error.status == 503 and error.retry_after is not None and error.retry_after >= 1
    assert error.message == (
        f"inference service '{SERVICE}' is unavailable: server error (HTTP 503) after 3 attempts"
    )
    assert error.details["attempts"] == 3 and error.details["service"] == SERVICE


@pytest.mark.parametrize(("header", "expected"), [("2", 2.0), ("120", 4.0)])
def test_retry_after_is_honoured_up_to_the_cap(
    server: LoopbackEmbeddings,
    make: Callable[..., HttpEmbedder],
    sleep: FakeSleep,
    header: str,
    expected: float,
) -> None:
    server.fail_next(1, status=429, retry_after=header)

    make(max_delay_seconds=4.0).embed_texts(TEXTS)

    assert sleep.delays == [expected]


def test_nothing_listening_is_a_503(make: Callable[..., HttpEmbedder], sleep: FakeSleep) -> None:
    embedder = make(endpoint_url=f"http://127.0.0.1:{_closed_port()}/embed")

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(TEXTS)

    assert "connection refused after 3 attempts" in caught.value.message
    assert len(sleep.delays) == 2


def test_a_slow_endpoint_times_out_and_is_retried(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], in_process: HuggingFaceImageTextEmbedder
) -> None:
    server.delay_next(1, seconds=3.0)

    vectors = make(timeout_seconds=0.3).embed_texts(TEXTS)

    assert len(server.requests) == 2
    assert _max_difference(vectors, in_process.embed_texts(TEXTS)) < 1e-6


def test_an_endpoint_that_never_answers_in_time_is_a_503(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder]
) -> None:
    server.delay_next(3, seconds=3.0)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make(timeout_seconds=0.3, max_attempts=3).embed_texts(TEXTS)

    assert "request timed out after 3 attempts" in caught.value.message
    assert len(server.requests) == 3


# ---------------------------------------------------------------------------------------------
# Bad input: a 400, never retried


def test_a_corrupt_image_is_a_400_naming_its_index_in_the_call(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], sleep: FakeSleep
) -> None:
    good = _image("PNG", (1, 2, 3))
    images = [good] * 33 + [b"not an image at all"]  # the bad one is the 2nd of the 2nd batch

    with pytest.raises(BadRequestError) as caught:
        make().embed_images(images)

    error = caught.value
    assert error.status == 400
    assert error.details == {"service": SERVICE, "status": 400, "index": 33}
    assert error.message.startswith(f"inference service '{SERVICE}' rejected image 33: could not be decoded")
    assert len(server.requests) == 2 and sleep.delays == []


@pytest.mark.parametrize("status", [400, 413, 422])
def test_input_statuses_are_400s_with_the_service_reason(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], status: int
) -> None:
    server.respond_next(1, status=status, body={"error": {"message": "text  too\nlong"}})

    with pytest.raises(BadRequestError) as caught:
        make().embed_texts(TEXTS)

    assert caught.value.message == f"inference service '{SERVICE}' rejected the input: text too long"
    assert len(server.requests) == 1


def test_an_image_over_the_limit_is_refused_before_any_upload(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder]
) -> None:
    with pytest.raises(BadRequestError) as caught:
        make().embed_images([_image("PNG", (1, 2, 3)), b"\0" * (MAX_IMAGE_BYTES + 1)])

    assert caught.value.details["index"] == 1
    assert server.requests == []


# ---------------------------------------------------------------------------------------------
# Wrong answers: a 503 naming the service, never a 500


def test_a_wrong_dimension_is_a_503_naming_both(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder]
) -> None:
    server.resize_next(1, dimension=256)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make().embed_texts(TEXTS)

    error = caught.value
    assert error.message.startswith(f"inference service '{SERVICE}' is unavailable: ")
    assert "returned 256-dimensional vectors, but the service is 512-dimensional" in error.message
    assert SETTING in error.message
    assert error.details["got_dimension"] == 256 and error.details["expected_dimension"] == 512
    assert len(server.requests) == 1  # a misconfigured model does not heal on retry


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>gateway</html>", "not JSON"),
        ({"vectors": []}, 'no "embeddings" list'),
        ({"embeddings": [[0.1] * 512]}, "1 embeddings for 3 inputs"),
        ({"embeddings": [["0.1"] * 512] * 3}, "not a list of numbers"),
        ({"embeddings": [[True] * 512] * 3}, "not a list of numbers"),
        ({"embeddings": [[0.0] * 512] * 3}, "zero or not finite"),
        (json.dumps({"embeddings": [[math.nan] * 512] * 3}).encode(), "not finite"),
    ],
    ids=["html", "no-embeddings", "count", "strings", "booleans", "zero", "nan"],
)
def test_malformed_answers_are_503s(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], body: object, reason: str
) -> None:
    server.respond_next(1, body=body)

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make().embed_texts(TEXTS)

    prefix = f"inference service '{SERVICE}' is unavailable: malformed response"
    assert caught.value.message.startswith(prefix)
    assert reason in caught.value.message


@pytest.mark.parametrize("status", [401, 403, 404, 302])
def test_configuration_statuses_are_503s_naming_the_setting_without_retry(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], status: int
) -> None:
    # A 302 carries a Location: urllib would follow it as a body-less GET; it must not.
    server.respond_next(1, status=status, body={"error": "no"}, headers={"Location": server.url})

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make().embed_texts(TEXTS)

    assert caught.value.message == (
        f"inference service '{SERVICE}' is unavailable: the endpoint answered HTTP {status}; check {SETTING}"
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize("url", ["", "not a url", "ftp://example.com/embed", "http:///embed"])
def test_an_unusable_url_is_a_503_naming_the_setting(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], url: str
) -> None:
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        make(endpoint_url=url).embed_texts(TEXTS)

    assert SETTING in caught.value.message
    assert url == "" or url not in caught.value.message  # the URL may carry a key: never echoed


def test_inputs_are_never_logged_nor_echoed(
    server: LoopbackEmbeddings, make: Callable[..., HttpEmbedder], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "patient 4711 has condition X"
    server.fail_next(10, status=500)

    with caplog.at_level(logging.DEBUG), pytest.raises(InferenceServiceUnavailableError) as caught:
        make().embed_texts([secret])

    assert secret not in caplog.text
    assert secret not in caught.value.message and secret not in json.dumps(caught.value.details)


# ---------------------------------------------------------------------------------------------
# The reference server itself


def test_the_reference_server_keeps_mixed_inputs_in_order(
    server: LoopbackEmbeddings, in_process: HuggingFaceImageTextEmbedder
) -> None:
    import base64

    image = _image("PNG", (9, 99, 199))
    inputs = [{"text": "a"}, {"image": base64.b64encode(image).decode()}, {"text": "b"}]
    request = urllib.request.Request(
        server.url,
        data=json.dumps({"model": SERVICE, "inputs": inputs}).encode(),
        headers={"Content-Type": "application/json"},
    )

    with urllib.request.urlopen(request, timeout=5) as response:
        embeddings = json.loads(response.read())["embeddings"]

    texts, images = in_process.embed_texts(["a", "b"]), in_process.embed_images([image])
    assert _max_difference(embeddings, [texts[0], images[0], texts[1]]) < 1e-6


# ---------------------------------------------------------------------------------------------
# Through the container's registry


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    monkeypatch.undo()


def test_the_endpoint_setting_builds_an_http_embedder_that_wins_over_weights(
    clean_env: pytest.MonkeyPatch,
    server: LoopbackEmbeddings,
    in_process: HuggingFaceImageTextEmbedder,
    tmp_path: Path,
) -> None:
    clean_env.setenv("STRATUS_CLIP_ENDPOINT_URL", server.url)
    clean_env.setenv("STRATUS_CLIP_WEIGHTS_URI", str(tmp_path / "no-weights-here"))

    embedder = container_from_environment().embedders.get(SERVICE)

    assert isinstance(embedder, HttpEmbedder)
    assert embedder.dimension == CLIP_DIMENSION
    assert _max_difference(embedder.embed_texts(TEXTS), in_process.embed_texts(TEXTS)) < 1e-6
    assert [request.model for request in server.requests] == [SERVICE]


def test_the_siglip_endpoint_setting_is_named_when_its_endpoint_fails(
    clean_env: pytest.MonkeyPatch, server: LoopbackEmbeddings
) -> None:
    clean_env.setenv("STRATUS_SIGLIP_ENDPOINT_URL", server.url)  # it serves CLIP only: a 404

    embedder = container_from_environment().embedders.get("google_siglip_base_v1")

    assert isinstance(embedder, HttpEmbedder) and embedder.dimension == 768
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(TEXTS)
    assert caught.value.message == (
        "inference service 'google_siglip_base_v1' is unavailable: the endpoint answered HTTP 404; "
        "check STRATUS_SIGLIP_ENDPOINT_URL"
    )
    assert server.requests[0].model == "google_siglip_base_v1"


def test_without_endpoint_or_weights_the_503_names_both_settings(clean_env: pytest.MonkeyPatch) -> None:
    embedder = container_from_environment().embedders.get(SERVICE)

    assert not isinstance(embedder, HttpEmbedder)
    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(TEXTS)
    assert "STRATUS_CLIP_WEIGHTS_URI" in caught.value.message
    assert "STRATUS_CLIP_ENDPOINT_URL" in caught.value.message
