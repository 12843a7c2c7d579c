"""The parallel shards of `make test` (tests/shards.py) cover exactly what plain pytest runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.shards import REPO_ROOT, shards


def _files(entry: str) -> list[str]:
    path = REPO_ROOT / entry
    found = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
    return [str(file.relative_to(REPO_ROOT)) for file in found]


def test_shards_cover_every_test_file_exactly_once_in_the_serial_order() -> None:
    options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert options["testpaths"] == ["tests"]
    every_file = _files("tests")

    sharded = [file for entries in shards().values() for entry in entries for file in _files(entry)]

    assert sorted(sharded) == every_file, "every test file in exactly one shard"
    # Each shard is a stretch of the serial order, so a run is the serial run cut in two.
    serial_position = {file: index for index, file in enumerate(every_file)}
    for name, entries in shards().items():
        positions = [serial_position[file] for entry in entries for file in _files(entry)]
        assert positions == list(range(positions[0], positions[0] + len(positions))), name
    assert all(Path(REPO_ROOT / entry).exists() for entries in shards().values() for entry in entries)
