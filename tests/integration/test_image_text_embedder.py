"""HuggingFaceImageTextEmbedder on tiny random CLIP and SigLIP models (CPU, offline).

The models are built here (`tests.tiny_image_text_models`) with the real classes and output
dimensions, saved like Hub snapshots, and loaded through the same code as the real weights: from
a local directory and from an S3 prefix served by moto. Random weights say nothing about
semantic quality; these tests pin the plumbing: shapes, normalisation, determinism, decoding,
limits and the 400/503 answers.
"""

from __future__ import annotations

import importlib.util
import io
import math
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from stratus.adapters.inference import image_text as image_text_embedder
from stratus.adapters.inference.image_text import (
    IMAGE_BATCH_SIZE,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    Family,
    HuggingFaceImageTextEmbedder,
)
from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from tests.tiny_image_text_models import build_tiny_clip, build_tiny_siglip


def _missing(*modules: str) -> list[str]:
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is missing
            found = False
        if not found:
            missing.append(module)
    return missing


_MISSING = _missing("torch", "transformers", "PIL")
# The SigLIP tokenizer is SentencePiece-based, and transformers wants protobuf beside it.
_MISSING_SIGLIP = _missing("sentencepiece", "google.protobuf")

pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f'needs pip install -e ".[local-models]" (missing: {", ".join(_MISSING)})'
)

# family -> (catalogue service, dimension, builder)
FAMILIES: dict[Family, tuple[str, int, Callable[[Path], Path]]] = {
    "clip": ("clip_vit_b32", 512, build_tiny_clip),
    "siglip": ("google_siglip_base_v1", 768, build_tiny_siglip),
}
TEXTS = ["a photo of a cat", "a red square", "the quick brown fox jumps over the lazy dog"]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module", params=["clip", "siglip"])
def family(request: pytest.FixtureRequest) -> Family:
    family: Family = request.param
    if family == "siglip" and _MISSING_SIGLIP:
        pytest.skip(f"SigLIP's tokenizer needs {', '.join(_MISSING_SIGLIP)}")
    return family


@pytest.fixture(scope="module")
def weights(family: Family, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, _, build = FAMILIES[family]
    return build(tmp_path_factory.mktemp(f"tiny-{family}"))


@pytest.fixture(scope="module")
def embedder(family: Family, weights: Path) -> HuggingFaceImageTextEmbedder:
    service, dimension, _ = FAMILIES[family]
    embedder = HuggingFaceImageTextEmbedder(service, family, dimension, str(weights))
    embedder.warm_up()
    return embedder


@pytest.fixture
def s3_bucket(aws_env: None) -> Iterator[Any]:
    """A moto S3 bucket; the adapter builds its own client inside the mock."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="weights")
        yield client


# ---------------------------------------------------------------------------------------------
# Helpers


def _image(
    fmt: str, color: tuple[int, int, int], size: tuple[int, int] = (48, 40), mode: str = "RGB"
) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, color)
    # A diagonal stripe so images are not flat (JPEG/WebP then really compress something).
    for offset in range(min(size)):
        image.putpixel((offset, offset), (255 - color[0], 255 - color[1], 255 - color[2]))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares a `width` x `height` canvas in a few dozen bytes (no pixel data):
    exactly what a decompression bomb looks like before it is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(value * value for value in vector))


def _max_difference(a: list[list[float]], b: list[list[float]]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for u, v in zip(a, b, strict=True) for x, y in zip(u, v, strict=True))


def _upload(client: Any, directory: Path, prefix: str) -> None:
    for path in sorted(directory.iterdir()):
        client.upload_file(str(path), "weights", f"{prefix}/{path.name}")


# ---------------------------------------------------------------------------------------------
# Shapes, normalisation, determinism


def test_text_and_image_vectors_share_the_catalogue_dimension(
    embedder: HuggingFaceImageTextEmbedder, family: Family
) -> None:
    service, dimension, _ = FAMILIES[family]
    texts = embedder.embed_texts(TEXTS)
    images = embedder.embed_images([_image("PNG", (200, 30, 30)), _image("JPEG", (20, 160, 60))])

    assert (embedder.name, embedder.dimension) == (service, dimension)
    assert len(texts) == 3 and len(images) == 2
    for vector in texts + images:
        assert len(vector) == dimension
        assert all(type(value) is float for value in vector)
        assert math.isclose(_norm(vector), 1.0, abs_tol=1e-5)
    assert embedder.embed_texts([]) == [] and embedder.embed_images([]) == []


def test_deterministic_and_order_preserving(embedder: HuggingFaceImageTextEmbedder, family: Family) -> None:
    images = [_image("PNG", (10 * i, 200 - 10 * i, 90)) for i in range(4)]

    assert embedder.embed_texts(TEXTS) == embedder.embed_texts(TEXTS)
    assert embedder.embed_images(images) == embedder.embed_images(images)
    # Another batch composition changes padding: equal to float noise, and in input order.
    assert _max_difference(embedder.embed_texts(TEXTS[::-1])[::-1], embedder.embed_texts(TEXTS)) < 1e-5
    assert _max_difference(embedder.embed_images(images[::-1])[::-1], embedder.embed_images(images)) < 1e-5
    # A second embedder on the same weights shares the loaded model: same vectors.
    service, dimension, _ = FAMILIES[family]
    twin = HuggingFaceImageTextEmbedder(service, family, dimension, embedder._weights_uri)
    assert twin.embed_texts(TEXTS[:1]) == embedder.embed_texts(TEXTS[:1])


def test_images_beyond_one_batch_keep_their_order(embedder: HuggingFaceImageTextEmbedder) -> None:
    images = [_image("PNG", (i * 7 % 256, i * 13 % 256, i * 29 % 256)) for i in range(IMAGE_BATCH_SIZE + 3)]

    together = embedder.embed_images(images)
    one_by_one = [embedder.embed_images([image])[0] for image in images]

    assert len(together) == IMAGE_BATCH_SIZE + 3
    assert _max_difference(together, one_by_one) < 1e-5


def test_concurrent_calls_agree(embedder: HuggingFaceImageTextEmbedder) -> None:
    image = _image("PNG", (1, 2, 3))
    expected_text, expected_image = embedder.embed_texts(TEXTS), embedder.embed_images([image])

    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda _: embedder.embed_texts(TEXTS), range(4)))
        images = list(pool.map(lambda _: embedder.embed_images([image]), range(4)))

    assert all(result == expected_text for result in texts)
    assert all(result == expected_image for result in images)


# ---------------------------------------------------------------------------------------------
# Decoding


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("PNG", "RGB"),
        ("JPEG", "RGB"),
        ("WEBP", "RGB"),
        ("PNG", "RGBA"),
        ("PNG", "L"),
        ("PNG", "P"),
        ("GIF", "P"),
    ],
)
def test_common_formats_and_modes_decode(embedder: HuggingFaceImageTextEmbedder, fmt: str, mode: str) -> None:
    (vector,) = embedder.embed_images([_image(fmt, (30, 90, 200), mode=mode)])

    assert len(vector) == embedder.dimension
    assert math.isclose(_norm(vector), 1.0, abs_tol=1e-5)


def test_same_picture_in_png_and_webp_lossless_embeds_the_same(
    embedder: HuggingFaceImageTextEmbedder,
) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(_image("PNG", (120, 40, 220)))).convert("RGB")
    webp = io.BytesIO()
    image.save(webp, format="WEBP", lossless=True)

    png_vector, webp_vector = embedder.embed_images([_image("PNG", (120, 40, 220)), webp.getvalue()])

    assert _max_difference([png_vector], [webp_vector]) < 1e-5


@pytest.mark.parametrize(
    "data",
    [b"not an image at all", b"", _image("PNG", (1, 2, 3))[:60]],
    ids=["garbage", "empty", "truncated-png"],
)
def test_undecodable_bytes_are_a_bad_request(embedder: HuggingFaceImageTextEmbedder, data: bytes) -> None:
    good = _image("PNG", (1, 2, 3))

    with pytest.raises(BadRequestError) as caught:
        embedder.embed_images([good, data])

    assert caught.value.status == 400
    assert caught.value.message.startswith("image 1 could not be decoded: ")
    assert caught.value.details["index"] == 1


def test_too_many_bytes_is_a_bad_request_naming_the_limit(embedder: HuggingFaceImageTextEmbedder) -> None:
    with pytest.raises(BadRequestError) as caught:
        embedder.embed_images([b"\x89PNG" + b"\0" * MAX_IMAGE_BYTES])

    assert f"the limit is {MAX_IMAGE_BYTES} bytes (20 MB)" in caught.value.message


@pytest.mark.parametrize(
    ("width", "height"),
    # Ours (50 MP), then Pillow's warning (over ~89 MP) and its hard error (over ~179 MP).
    [(8000, 7000), (10_000, 10_000), (20_000, 20_000)],
)
def test_too_many_pixels_is_a_bad_request_naming_the_limit(
    embedder: HuggingFaceImageTextEmbedder, width: int, height: int
) -> None:
    with pytest.raises(BadRequestError) as caught:
        embedder.embed_images([_png_header(width, height)])

    assert f"the limit is {MAX_IMAGE_PIXELS} pixels (50 megapixels)" in caught.value.message
    assert caught.value.details["max_pixels"] == MAX_IMAGE_PIXELS


def test_a_bad_image_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    # Weights that do not exist: had the model been loaded first, this would be a 503.
    embedder = HuggingFaceImageTextEmbedder("clip_vit_b32", "clip", 512, str(tmp_path / "none"))

    with pytest.raises(BadRequestError):
        embedder.embed_images([b"garbage"])


# ---------------------------------------------------------------------------------------------
# Configuration errors (503)


@pytest.mark.parametrize("family_name", ["clip", "siglip"])
def test_missing_weights_are_a_503_naming_the_setting(tmp_path: Path, family_name: Family) -> None:
    service, dimension, _ = FAMILIES[family_name]
    setting = f"STRATUS_{family_name.upper()}_WEIGHTS_URI"
    for uri in (str(tmp_path / "no-such-dir"), ""):
        embedder = HuggingFaceImageTextEmbedder(service, family_name, dimension, uri)

        with pytest.raises(InferenceServiceUnavailableError) as caught:
            embedder.embed_texts(["x"])

        assert caught.value.status == 503 and caught.value.retry_after == 1
        assert setting in caught.value.message
        assert caught.value.message.startswith(f"inference service '{service}' is unavailable: ")
        assert caught.value.details["setting"] == setting


def test_a_directory_without_weights_is_a_503(tmp_path: Path) -> None:
    embedder = HuggingFaceImageTextEmbedder("clip_vit_b32", "clip", 512, str(tmp_path))

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(["x"])

    assert "could not be loaded" in caught.value.message
    assert "STRATUS_CLIP_WEIGHTS_URI" in caught.value.message


def test_a_model_of_another_dimension_is_a_503_naming_both(family: Family, weights: Path) -> None:
    service, dimension, _ = FAMILIES[family]
    embedder = HuggingFaceImageTextEmbedder(service, family, 256, str(weights))

    with pytest.raises(InferenceServiceUnavailableError) as caught:
        embedder.embed_texts(["x"])

    assert f"produces {dimension}-dimensional vectors" in caught.value.message
    assert "the service is 256-dimensional" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Weights from S3


def test_weights_load_from_s3_and_match_the_local_copy(
    s3_bucket: Any, family: Family, weights: Path, embedder: HuggingFaceImageTextEmbedder
) -> None:
    from stratus.adapters.inference.weights import local_weights_dir

    prefix = f"models/{family}"
    _upload(s3_bucket, weights, prefix)
    # Beside it: a Hub export the PyTorch loader never reads, and a sibling prefix.
    s3_bucket.put_object(Bucket="weights", Key=f"{prefix}/tf_model.h5", Body=b"unused")
    s3_bucket.put_object(Bucket="weights", Key=f"{prefix}-other/config.json", Body=b"{}")
    service, dimension, _ = FAMILIES[family]
    uri = f"s3://weights/{prefix}/"

    from_s3 = HuggingFaceImageTextEmbedder(service, family, dimension, uri)
    image = _image("WEBP", (50, 60, 70))

    assert from_s3.embed_texts(TEXTS) == embedder.embed_texts(TEXTS)
    assert from_s3.embed_images([image]) == embedder.embed_images([image])
    mirror = local_weights_dir(uri)
    assert sorted(path.name for path in mirror.iterdir()) == sorted(path.name for path in weights.iterdir())
    # Mirrored once per process: later calls reuse the copy even if S3 changes.
    s3_bucket.delete_object(Bucket="weights", Key=f"{prefix}/config.json")
    assert local_weights_dir(uri) == mirror


def test_s3_without_objects_or_bucket_is_a_503(s3_bucket: Any) -> None:
    for uri in ("s3://weights/empty-prefix", "s3://no-such-bucket/models/clip"):
        embedder = HuggingFaceImageTextEmbedder("clip_vit_b32", "clip", 512, uri)

        with pytest.raises(InferenceServiceUnavailableError) as caught:
            embedder.embed_texts(["x"])

        assert uri.rstrip("/") in caught.value.message
        assert "STRATUS_CLIP_WEIGHTS_URI" in caught.value.message


def test_s3_keys_cannot_escape_the_mirror(s3_bucket: Any) -> None:
    from stratus.adapters.inference.weights import local_weights_dir

    s3_bucket.put_object(Bucket="weights", Key="escape/../../outside.txt", Body=b"x")

    with pytest.raises(InferenceServiceUnavailableError, match="outside the weights directory"):
        local_weights_dir("s3://weights/escape")


# ---------------------------------------------------------------------------------------------
# Text-only services


def test_text_only_embedders_refuse_images() -> None:
    from stratus.adapters.inference.minilm import MiniLMEmbedder
    from stratus.adapters.inference.openai import OpenAIEmbedder
    from stratus.adapters.inference.unavailable import UnavailableEmbedder

    png = _image("PNG", (1, 2, 3))
    openai = OpenAIEmbedder("openai_text_3_small", "text-embedding-3-small", 1536, lambda: "key", None)
    for text_only in (MiniLMEmbedder(), openai):
        with pytest.raises(BadRequestError) as caught:
            text_only.embed_images([png])
        assert caught.value.message == f"inference service '{text_only.name}' takes text only, not images"
        assert caught.value.status == 400

    with pytest.raises(InferenceServiceUnavailableError) as unavailable:
        UnavailableEmbedder("clip_vit_b32", 512, "transformers is not installed").embed_images([png])
    assert unavailable.value.message.startswith("inference service 'clip_vit_b32' is unavailable: ")


def test_images_are_decoded_one_at_a_time(
    embedder: HuggingFaceImageTextEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch's decoded canvases held together were the memory blow-up (16 x 49 MP = 3 GB).
    live = most = 0
    real_decode = image_text_embedder._decode_image

    def counted_decode(pil: Any, data: bytes, index: int) -> Any:
        nonlocal live, most
        picture = real_decode(pil, data, index)
        live += 1
        most = max(most, live)
        real_close = picture.close

        def close() -> None:
            nonlocal live
            live -= 1
            real_close()

        picture.close = close
        return picture

    monkeypatch.setattr(image_text_embedder, "_decode_image", counted_decode)
    images = [_image("PNG", (i, 2 * i, 3 * i)) for i in range(IMAGE_BATCH_SIZE + 2)]
    assert len(embedder.embed_images(images)) == len(images)
    assert (most, live) == (1, 0)
