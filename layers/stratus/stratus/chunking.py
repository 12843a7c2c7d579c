"""Text chunking of `text_extractor` and the text read from uploaded files. Pure and
deterministic: the same text and parameters always give the same chunks (so a redelivered event
re-creates the same documents).

`chunk_text(text, split_by, chunk_size, chunk_overlap)`; lengths are counted in characters
(Unicode code points, never bytes, so a multi-byte character is never cut in half):

| split_by     | chunks                                                                        |
|--------------|-------------------------------------------------------------------------------|
| `none`       | the whole text, stripped, as one chunk (`chunk_size` does not apply: "none"   |
|              | means the caller wants one document per object)                               |
| `sentences`  | sentences packed greedily into chunks of at most `chunk_size` characters,     |
|              | joined by one space                                                           |
| `paragraphs` | blank-line separated paragraphs packed the same way, joined by a blank line   |
| `characters` | fixed windows of `chunk_size` characters, each starting `chunk_size -         |
|              | chunk_overlap` after the previous one                                         |

Rules shared by every mode:
- no chunk is empty or only whitespace; blank text gives `[]` (nothing to embed: the caller
  decides what an object without text means);
- when packing, a sentence or paragraph longer than `chunk_size` is cut at its last whitespace
  that fits (or hard, when a "word" alone is longer than `chunk_size`), so no chunk exceeds it;
- overlap when packing is made of whole units: the next chunk starts with the trailing
  sentences/paragraphs of the previous one whose total length is at most `chunk_overlap`, and
  always adds at least one new unit, so chunking always ends.

The sentence splitter is a regex, not a language model: a sentence ends at `.`, `!`, `?` or `…`
(and closing quotes or brackets) followed by whitespace, at a CJK full stop, exclamation or
question mark (no space needed), or at a blank line. Abbreviations such as "e.g. " therefore end
a sentence; packing makes that harmless for retrieval.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from stratus.errors import BadRequestError

SPLIT_BY = ("none", "sentences", "paragraphs", "characters")
TEXT_FILE_SUFFIXES = (".txt", ".md")
JSON_FILE_SUFFIXES = (".json",)

# Sentence ends: ". ! ? \u2026" (and closing quotes/brackets) before whitespace; the CJK full stop,
# exclamation and question marks (and closing brackets/quotes), no space needed; a blank line.
# Escaped so the source stays ASCII (ruff RUF001 flags look-alike characters).
_BLANK_LINE = r"\n[ \t\r]*\n"  # a newline, optional spaces (or the \r of a CRLF), a newline
_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s|$)"
    r"|[\u3002\uff01\uff1f]+[\u300d\u300f\u201d\u2019)]*"
    "|" + _BLANK_LINE
)
_PARAGRAPH_BREAK = re.compile(_BLANK_LINE)
_WHITESPACE = re.compile(r"\s")

_JOINERS = {"sentences": " ", "paragraphs": "\n\n"}


def chunk_text(
    text: str, split_by: str, chunk_size: int, chunk_overlap: int = 0, max_chunks: int | None = None
) -> list[str]:
    """The chunks of `text`. Time and memory are linear in the text, and with `max_chunks` the
    chunks made stop one past the cap: a text that makes more is a 400 (the object's fault)."""
    _check_arguments(split_by, chunk_size, chunk_overlap)
    if not text.strip():
        return []
    if split_by == "none":
        return [text.strip()]
    if split_by == "characters":
        chunks = _windows(text, chunk_size, chunk_overlap)
    else:
        units = _sentences(text) if split_by == "sentences" else _paragraphs(text)
        pieces = (piece for unit in units for piece in _fit(unit, chunk_size))
        chunks = _pack(pieces, chunk_size, chunk_overlap, _JOINERS[split_by])
    if max_chunks is None:
        return list(chunks)
    kept = list(itertools.islice(chunks, max_chunks + 1))
    if len(kept) > max_chunks:
        raise TooManyChunksError(max_chunks)
    return kept


class TooManyChunksError(BadRequestError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the text makes more than {limit} chunks, the most one object makes; "
            "raise params.chunk_size, or split the text into several objects",
            {"field": "params.chunk_size", "max_chunks": limit},
        )


def _check_arguments(split_by: str, chunk_size: int, chunk_overlap: int) -> None:
    # The extractor catalogue validates these at namespace creation; this guards other callers.
    if split_by not in SPLIT_BY:
        raise BadRequestError(
            f"params.split_by: {split_by!r} is not accepted; use one of {', '.join(SPLIT_BY)}",
            {"field": "params.split_by", "allowed": list(SPLIT_BY)},
        )
    if chunk_size < 1:
        raise BadRequestError(
            f"params.chunk_size: must be at least 1, got {chunk_size}", {"field": "params.chunk_size"}
        )
    if not 0 <= chunk_overlap < chunk_size:
        raise BadRequestError(
            f"params.chunk_overlap: must be within 0..{chunk_size - 1} (smaller than chunk_size), "
            f"got {chunk_overlap}",
            {"field": "params.chunk_overlap"},
        )


def _windows(text: str, size: int, overlap: int) -> Iterator[str]:
    """Fixed windows over the text as it is (not stripped, so consecutive windows share exactly
    `overlap` characters); blank windows are skipped."""
    step = size - overlap
    start = 0
    while True:
        window = text[start : start + size]
        if window.strip():
            yield window
        if start + size >= len(text):
            return
        start += step


def _sentences(text: str) -> Iterator[str]:
    return _split_at(text, (match.end() for match in _SENTENCE_END.finditer(text)))


def _paragraphs(text: str) -> Iterator[str]:
    return _split_at(text, (match.start() for match in _PARAGRAPH_BREAK.finditer(text)))


def _split_at(text: str, ends: Iterator[int]) -> Iterator[str]:
    """The stripped, non-blank parts of `text` cut at `ends`, one at a time."""
    start = 0
    for end in ends:
        unit = text[start:end].strip()
        if unit:
            yield unit
        start = end
    unit = text[start:].strip()
    if unit:
        yield unit


def _fit(unit: str, size: int) -> Iterator[str]:
    """`unit` (stripped) cut into pieces of at most `size` characters, at whitespace where
    possible. It walks the text by index: each cut copies only the piece it makes, never the rest
    of the text, so a long unit without whitespace or sentence ends costs linear time."""
    start, end = 0, len(unit)
    while end - start > size:
        cut = _last_whitespace(unit, start, size)
        head = unit[start:cut] if cut > start else unit[start : start + size]
        start = _after_whitespace(unit, cut + 1 if cut > start else start + size)
        head = head.strip()
        if head:
            yield head
    rest = unit[start:].strip()
    if rest:
        yield rest


def _last_whitespace(text: str, start: int, size: int) -> int:
    """Index of the last whitespace in `text[start : start + size + 1]` (the cut keeps
    `text[start:index]`, at most `size` characters), or -1 when there is none."""
    found = -1
    for match in _WHITESPACE.finditer(text, start, start + size + 1):
        found = match.start()
    return found


def _after_whitespace(text: str, index: int) -> int:
    """The first index at or after `index` that is not whitespace (as `str.strip` sees it)."""
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _pack(pieces: Iterable[str], size: int, overlap: int, joiner: str) -> Iterator[str]:
    current: list[str] = []
    length = 0  # of joiner.join(current), kept as we go: pieces can be many and short
    for piece in pieces:
        if current and length + len(joiner) + len(piece) > size:
            yield joiner.join(current)
            current = _carried(current, overlap, joiner)
            length = _joined_length(current, joiner)
            # The carried overlap gives way to the new piece when both do not fit.
            while current and length + len(joiner) + len(piece) > size:
                dropped = current.pop(0)
                length = length - len(dropped) - len(joiner) if current else 0
        length = length + len(joiner) + len(piece) if current else len(piece)
        current.append(piece)
    if current:
        yield joiner.join(current)


def _carried(previous: list[str], overlap: int, joiner: str) -> list[str]:
    """The trailing pieces of `previous` whose joined length is at most `overlap`."""
    count = 0
    length = -len(joiner)
    for piece in reversed(previous):
        if length + len(joiner) + len(piece) > overlap:
            break
        length += len(joiner) + len(piece)
        count += 1
    return previous[len(previous) - count :]


def _joined_length(pieces: list[str], joiner: str) -> int:
    if not pieces:
        return 0
    return sum(len(piece) for piece in pieces) + len(joiner) * (len(pieces) - 1)


# ---------------------------------------------------------------------------------------------
# Files


def extract_text_from_file(name: str, data: bytes) -> str:
    """The text of an uploaded `.txt`, `.md` or `.json` file. JSON gives every string value,
    depth-first in document order, one per line (keys are structure, not content)."""
    suffix = _suffix(name)
    if suffix in TEXT_FILE_SUFFIXES:
        return _decoded(name, data)
    if suffix in JSON_FILE_SUFFIXES:
        return "\n".join(_json_strings(_parsed_json(name, _decoded(name, data))))
    supported = ", ".join(TEXT_FILE_SUFFIXES + JSON_FILE_SUFFIXES)
    raise BadRequestError(
        f"file '{name}': unsupported file type {suffix or '(no extension)'}; text files must be {supported}",
        {"file": name, "supported_extensions": list(TEXT_FILE_SUFFIXES + JSON_FILE_SUFFIXES)},
    )


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""


def _decoded(name: str, data: bytes) -> str:
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of the text.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BadRequestError(
            f"file '{name}' is not UTF-8 text: byte 0x{data[error.start]:02x} at offset {error.start} "
            "cannot be decoded; save the file as UTF-8",
            {"file": name, "offset": error.start},
        ) from None


def _parsed_json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequestError(
            f"file '{name}' is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
            {"file": name, "line": error.lineno, "column": error.colno},
        ) from None
    except RecursionError:
        raise BadRequestError(f"file '{name}' is nested too deeply to read as JSON", {"file": name}) from None


def _json_strings(value: Any) -> list[str]:
    """Every non-blank string of `value`, depth-first in document order. Iterative: a deep
    document must not exhaust the interpreter's stack."""
    found: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                found.append(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found
