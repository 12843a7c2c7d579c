"""`Embedder` for the image-text services (`clip_vit_b32`, `google_siglip_base_v1`): CLIP or
SigLIP in-process on CPU through Hugging Face `transformers`, fully offline.

The weights come from a configured directory or `s3://bucket/prefix` (`weights.py`);
the Hub is never asked. torch, transformers and Pillow are imported only on first use: importing
them costs seconds, which no cold start that never embeds should pay. The image processors are
the Pillow ("Pil") variants: the default ones need torchvision, which this CPU torch lacks.

Text and image vectors are L2-normalised, so both live in one cosine space: a text query finds
images, and dot product equals cosine.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from stratus.adapters.inference.hf_offline import INSTALL_HINT, not_installed, stay_offline
from stratus.adapters.inference.service import CatalogueService, service_unavailable
from stratus.errors import BadRequestError, InferenceServiceUnavailableError
from stratus.inference_catalogue import CATALOGUE

Family = Literal["clip", "siglip"]
_T = TypeVar("_T")

WEIGHTS_SETTINGS: dict[Family, str] = {
    "clip": "STRATUS_CLIP_WEIGHTS_URI",
    "siglip": "STRATUS_SIGLIP_WEIGHTS_URI",
}
# Limits on one image, checked before it is decoded: a small file can declare a huge canvas.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000
# Forward-pass sizes: bounded so peak memory stays flat whatever the request size.
IMAGE_BATCH_SIZE = 16
TEXT_BATCH_SIZE = 64

# family -> (model class, tokenizer class, Pillow image processor class), all in `transformers`.
_CLASSES: dict[Family, tuple[str, str, str]] = {
    "clip": ("CLIPModel", "CLIPTokenizer", "CLIPImageProcessor"),
    "siglip": ("SiglipModel", "SiglipTokenizer", "SiglipImageProcessor"),
}


@dataclass
class _Loaded:
    model: Any
    tokenizer: Any
    image_processor: Any
    text_max_length: int
    # One forward pass at a time per model: torch already spreads one pass over every core, and
    # concurrent passes would multiply peak memory (fast tokenizers are not thread-safe either).
    lock: threading.Lock = field(default_factory=threading.Lock)


# One copy per (family, weights) per process, whatever the number of embedders: ~600 MB read-only.
_loaded: dict[tuple[Family, str], _Loaded] = {}
_load_lock = threading.Lock()
# `warnings.catch_warnings` swaps process-wide state: decode under a lock so threads do not race.
_decode_lock = threading.Lock()


class HuggingFaceImageTextEmbedder(CatalogueService):
    def __init__(
        self,
        service_name: str,
        family: Family,
        dimension: int,
        weights_uri: str,
        weights_setting: str | None = None,
    ) -> None:
        if family not in _CLASSES:
            raise ValueError(f"family must be one of {sorted(_CLASSES)}, got {family!r}")
        super().__init__(service_name, dimension)
        self._family: Family = family
        self._weights_uri = weights_uri.strip()
        # The setting an operator changes to fix a missing location (named in every 503).
        self._setting = weights_setting or WEIGHTS_SETTINGS[family]
        service = CATALOGUE.get(service_name)
        self._model_id = service.model if service else None

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        loaded = self._load()
        vectors: list[list[float]] = []
        for batch in _chunks(texts, TEXT_BATCH_SIZE):
            vectors.extend(self._embed_text_batch(loaded, batch))
        return vectors

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        if not images:
            return []
        pil = _import_pil(self._unavailable)
        # Every image's size is checked (headers only) before anything heavy: a bad image 40 of a
        # request fails it at once, and never makes a cold container load the model first.
        for index, data in enumerate(images):
            _open_image(pil, data, index).close()
        loaded = self._load()
        vectors: list[list[float]] = []
        for number, batch in enumerate(_chunks(images, IMAGE_BATCH_SIZE)):
            first = number * IMAGE_BATCH_SIZE
            # One image decoded at a time and made model input (a small tensor) at once: a batch
            # never holds its decoded canvases together (16 images of 49 MP are 3 GB decoded).
            pixels = [self._pixels(loaded, pil, data, first + offset) for offset, data in enumerate(batch)]
            vectors.extend(self._embed_pixels(loaded, pixels))
        return vectors

    def warm_up(self) -> None:
        """Load the model now (e.g. at init time of a provisioned container)."""
        self._load()

    # -----------------------------------------------------------------------------------------
    # Forward passes

    def _embed_text_batch(self, loaded: _Loaded, batch: list[str]) -> list[list[float]]:
        import torch

        with loaded.lock, torch.inference_mode():
            if self._family == "siglip":
                # SigLIP was trained on max-length padded text without a mask and pools the last
                # token: padding and masking otherwise gives vectors off the model's space.
                encoded = loaded.tokenizer(
                    batch,
                    padding="max_length",
                    truncation=True,
                    max_length=loaded.text_max_length,
                    return_tensors="pt",
                )
                output = loaded.model.get_text_features(input_ids=encoded["input_ids"])
            else:
                encoded = loaded.tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=loaded.text_max_length,
                    return_tensors="pt",
                )
                output = loaded.model.get_text_features(
                    input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
                )
            return self._normalized(output)

    def _pixels(self, loaded: _Loaded, pil: Any, data: bytes, index: int) -> Any:
        """One image as the model's input tensor; its decoded canvas is closed before the next."""
        picture = _decode_image(pil, data, index)
        try:
            with loaded.lock:
                return loaded.image_processor(images=[picture], return_tensors="pt")["pixel_values"]
        finally:
            picture.close()

    def _embed_pixels(self, loaded: _Loaded, pixels: list[Any]) -> list[list[float]]:
        import torch

        with loaded.lock, torch.inference_mode():
            return self._normalized(loaded.model.get_image_features(pixel_values=torch.cat(pixels)))

    def _normalized(self, output: Any) -> list[list[float]]:
        import torch

        # transformers 5 returns a ModelOutput whose `pooler_output` is the projected embedding;
        # transformers 4 returned the tensor itself.
        features = output if isinstance(output, torch.Tensor) else output.pooler_output
        if features.ndim != 2 or features.shape[-1] != self._dimension:
            raise self._unavailable(
                f"the model at {self._weights_uri} produces {features.shape[-1]}-dimensional vectors, "
                f"but the service is {self._dimension}-dimensional; check {self._setting}",
                got_dimension=int(features.shape[-1]),
                expected_dimension=self._dimension,
            )
        normalized = torch.nn.functional.normalize(features.float(), p=2.0, dim=-1)
        return [[float(value) for value in row] for row in normalized.tolist()]

    # -----------------------------------------------------------------------------------------
    # Loading

    def _load(self) -> _Loaded:
        key = (self._family, self._weights_uri)
        loaded = _loaded.get(key)
        if loaded is not None:
            return loaded
        with _load_lock:
            loaded = _loaded.get(key)
            if loaded is None:  # another thread may have loaded it while we waited
                loaded = _loaded[key] = self._build()
        return loaded

    def _build(self) -> _Loaded:
        if not self._weights_uri:
            raise self._unavailable(
                f"no weights are configured; set {self._setting} to a directory or s3://bucket/prefix "
                f"holding the Hugging Face files of {self._model_id or 'the model'}"
            )
        stay_offline()
        try:
            import torch
            import transformers
        except ImportError as error:
            raise self._unavailable(not_installed(error)) from None
        from stratus.adapters.inference.weights import local_weights_dir

        try:
            directory = local_weights_dir(self._weights_uri)
        except InferenceServiceUnavailableError as error:
            raise self._unavailable(f"{error.message}; check {self._setting}") from None
        model_name, tokenizer_name, processor_name = _CLASSES[self._family]
        try:
            # Inside the try: transformers resolves classes lazily, and one whose backend is
            # missing (SiglipTokenizer without sentencepiece) raises ImportError right here.
            model_class = getattr(transformers, model_name)
            tokenizer_class = getattr(transformers, tokenizer_name)
            processor_class = _pil_image_processor(transformers, processor_name)
            model = model_class.from_pretrained(directory, local_files_only=True)
            tokenizer = tokenizer_class.from_pretrained(directory, local_files_only=True)
            image_processor = processor_class.from_pretrained(directory, local_files_only=True)
        except ImportError as error:
            # e.g. SiglipTokenizer needs sentencepiece and protobuf; transformers names them.
            raise self._unavailable(f"{_missing_package(error)}; install it with {INSTALL_HINT}") from None
        except Exception as error:  # OSError for missing files, ValueError, safetensors errors...
            raise self._unavailable(
                f"the weights at {self._weights_uri} could not be loaded ({type(error).__name__}: {error}); "
                f"check {self._setting}"
            ) from None
        # float32: the CPU kernels of half precision are slow or missing.
        model = model.to(torch.float32).eval()
        return _Loaded(model, tokenizer, image_processor, _text_max_length(model, tokenizer))

    def _unavailable(self, reason: str, **details: Any) -> InferenceServiceUnavailableError:
        return service_unavailable(self._name, reason, {"setting": self._setting, **details})


# ---------------------------------------------------------------------------------------------
# Images


def _import_pil(unavailable: Callable[[str], InferenceServiceUnavailableError]) -> Any:
    try:
        import PIL.Image
    except ImportError:
        raise unavailable(f"package 'pillow' is not installed; install it with {INSTALL_HINT}") from None
    return PIL.Image


def _open_image(pil: Any, data: bytes, index: int) -> Any:
    """The image with its header read (lazy: pixels not decoded yet), within the limits."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BadRequestError(
            f"image {index} is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} bytes "
            f"({MAX_IMAGE_BYTES // (1024 * 1024)} MB)",
            {"index": index, "max_bytes": MAX_IMAGE_BYTES},
        )
    try:
        with _decode_lock, warnings.catch_warnings():
            # Pillow only warns about a decompression bomb below twice its own limit: refuse.
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            image = pil.open(io.BytesIO(data))
    except (pil.DecompressionBombWarning, pil.DecompressionBombError):
        raise _too_many_pixels(index, None) from None
    except Exception as error:  # UnidentifiedImageError, OSError, SyntaxError... from any plugin
        # Pillow's own message names the BytesIO object's address: say it plainly instead.
        reason = "unrecognised image format" if isinstance(error, pil.UnidentifiedImageError) else error
        raise _undecodable(index, reason) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise _too_many_pixels(index, (width, height))
    return image


def _decode_image(pil: Any, data: bytes, index: int) -> Any:
    """The image decoded to RGB, which is what both models were trained on."""
    image = _open_image(pil, data, index)
    try:
        with _decode_lock, warnings.catch_warnings():
            warnings.simplefilter("error", pil.DecompressionBombWarning)
            # Palette images with transparency warn on a direct RGB conversion: go through RGBA.
            source = image.convert("RGBA") if image.mode == "P" else image
            return source.convert("RGB")
    except (pil.DecompressionBombWarning, pil.DecompressionBombError):
        raise _too_many_pixels(index, image.size) from None
    except Exception as error:  # truncated or corrupt pixel data surfaces only here
        raise _undecodable(index, error) from None
    finally:
        image.close()


def _too_many_pixels(index: int, size: tuple[int, int] | None) -> BadRequestError:
    declared = f"is {size[0]}x{size[1]} pixels" if size else "has too many pixels"
    return BadRequestError(
        f"image {index} {declared}; the limit is {MAX_IMAGE_PIXELS} pixels "
        f"({MAX_IMAGE_PIXELS // 1_000_000} megapixels)",
        {"index": index, "max_pixels": MAX_IMAGE_PIXELS},
    )


def _undecodable(index: int, error: Exception | str) -> BadRequestError:
    reason = str(error) or type(error).__name__
    return BadRequestError(
        f"image {index} could not be decoded: {reason}; send JPEG, PNG or WebP bytes",
        {"index": index},
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _pil_image_processor(transformers: Any, name: str) -> Any:
    # transformers 5 splits each processor into a torchvision class (the default name) and a
    # Pillow one (`...Pil`); transformers 4 had only the Pillow/numpy one, under the plain name.
    return getattr(transformers, f"{name}Pil", None) or getattr(transformers, name)


def _missing_package(error: ImportError) -> str:
    if error.name:
        return f"package '{error.name}' is not installed"
    # transformers' backend checks raise a bare ImportError with a paragraph: keep its first
    # sentence ("SiglipTokenizer requires the protobuf library but it was not found ...").
    text = " ".join(str(error).split())
    return text.split(". ", 1)[0] if text else "a required package is not installed"


def _text_max_length(model: Any, tokenizer: Any) -> int:
    """The longest token sequence the text tower takes (77 for CLIP, 64 for SigLIP)."""
    positions = int(model.config.text_config.max_position_embeddings)
    declared = getattr(tokenizer, "model_max_length", None)
    # Tokenizers saved without a limit report a huge sentinel (int(1e30)).
    if isinstance(declared, int) and 0 < declared < positions:
        return declared
    return positions


def _chunks(items: Sequence[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
