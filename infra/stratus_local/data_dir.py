"""The stack's data dir (locked, cleared at every start) and the private files it writes (the
info file and the key file hold the dev API key)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from stratus_local.options import StackError

# Lives inside the data dir and survives the clearing: it marks the directory as ours (we refuse
# to wipe a non-empty directory without it) and its flock keeps two stacks off one directory.
LOCK_FILE_NAME = ".stratus-local.lock"


def lock_and_clear_data_dir(data_dir: Path) -> IO[str]:
    """Empty `data_dir` (keeping only the lock file) and return the open, flock'ed lock file;
    keep it open for the life of the stack. Refuses a non-empty directory that is not ours."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / LOCK_FILE_NAME
    if not lock_path.exists() and any(data_dir.iterdir()):
        raise StackError(
            f"{data_dir} is not empty and was not made by the local stack; refusing to wipe it. "
            "Pass an empty or new --data-dir."
        )
    lock_file = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise StackError(
            f"another local stack is using {data_dir}; stop it first or pass another --data-dir"
        ) from None
    for entry in data_dir.iterdir():
        if entry.name == LOCK_FILE_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return lock_file


def write_private_file(path: Path, text: str) -> None:
    """Owner-only (0600) - the file holds an API key - and atomic (temp file + rename), so a
    reader polling for it never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)  # O_CREAT's mode applies only to a new file
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)
