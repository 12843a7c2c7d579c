"""Tiny, randomly initialised CLIP and SigLIP models saved like the real Hub snapshots, offline.

They have the real classes, file layout and output dimensions (512 for `clip_vit_b32`, 768 for
`google_siglip_base_v1`) but a few layers of width 32, so `HuggingFaceImageTextEmbedder` loads
them through the very code that loads `openai/clip-vit-base-patch32` and
`google/siglip-base-patch16-224`, in well under a second. Seeded: the same files every time.

Each part is saved on its own (model, tokenizer, image processor), as in the real repositories
(`config.json`, `model.safetensors`, `preprocessor_config.json`, tokenizer files), not as one
combined `processor_config.json`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

CLIP_DIMENSION = 512
SIGLIP_DIMENSION = 768
IMAGE_SIZE = 32
PATCH_SIZE = 8
SEED = 0

# Enough text for SentencePiece to learn a small vocabulary; fixed so the model file is too.
_SIGLIP_CORPUS = [
    "a photo of a cat",
    "a photo of a dog",
    "a red square on a white background",
    "the quick brown fox jumps over the lazy dog",
    "green blue yellow black white picture image",
    "stratus vector search namespace embedding",
] * 20


def build_tiny_clip(directory: Path) -> Path:
    """Save a tiny `CLIPModel` (projection 512), `CLIPTokenizer` and Pillow image processor."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab = _byte_level_vocab()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    config = CLIPConfig(
        text_config={
            **_tiny_tower(),
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**_tiny_tower(), "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE},
        projection_dim=CLIP_DIMENSION,
    )
    _save(_seeded_model(CLIPModel, config), directory)
    tokenizer.save_pretrained(directory)
    CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    ).save_pretrained(directory)
    return directory


def build_tiny_siglip(directory: Path) -> Path:
    """Save a tiny `SiglipModel` (768-dimensional), `SiglipTokenizer` and Pillow image processor.

    SigLIP has no projection: the image embedding is the vision tower's width, so that tower is
    768 wide (one layer, narrow MLP); the text tower is narrow with a 768 `projection_size` head.
    Needs sentencepiece and protobuf, as the real SigLIP tokenizer does."""
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel, SiglipTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    spiece = directory / "spiece.model"
    spiece.write_bytes(_train_sentencepiece())
    tokenizer = SiglipTokenizer(vocab_file=str(spiece), model_max_length=64)
    config = SiglipConfig(
        text_config={
            **_tiny_tower(),
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 64,
            "projection_size": SIGLIP_DIMENSION,
            "bos_token_id": None,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            **_tiny_tower(),
            "hidden_size": SIGLIP_DIMENSION,
            "num_hidden_layers": 1,
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
        },
    )
    _save(_seeded_model(SiglipModel, config), directory)
    tokenizer.save_pretrained(directory)
    SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}).save_pretrained(directory)
    return directory


def _tiny_tower() -> dict[str, Any]:
    return {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2}


def _seeded_model(model_class: Any, config: Any) -> Any:
    import torch

    # A private RNG state: seeding the global one would change other tests' random numbers.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return model_class(config).eval()


def _save(model: Any, directory: Path) -> None:
    model.save_pretrained(directory, safe_serialization=True)


def _byte_level_vocab() -> dict[str, int]:
    """CLIP's base vocabulary: the 256 byte-level symbols, each also as a word end, and the two
    specials. No merges: every word is spelled byte by byte, which is all a test needs."""
    symbols = _bytes_to_unicode()
    vocab = {symbol: index for index, symbol in enumerate(symbols)}
    vocab.update({f"{symbol}</w>": len(symbols) + index for index, symbol in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible byte → printable character table."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def _train_sentencepiece() -> bytes:
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(_SIGLIP_CORPUS),
        model_writer=model,
        model_type="unigram",
        vocab_size=64,
        hard_vocab_limit=False,
        # The real spiece.model's layout: <pad> 0, </s> 1, <unk> 2, no bos (SiglipTokenizer then
        # pads with </s>, as SigLIP was trained).
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        num_threads=1,  # one thread: the same pieces every run
        minloglevel=2,
    )
    return model.getvalue()
