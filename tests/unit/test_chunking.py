"""Chunking and file text extraction: exact tables for the documented behaviour, then the
properties every mode keeps over a table of awkward inputs (no hypothesis here: the inputs are
chosen by hand to hit the edges)."""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Iterator

import pytest

from stratus import chunking
from stratus.chunking import chunk_text, extract_text_from_file
from stratus.errors import BadRequestError

# Full-width CJK punctuation, escaped: ruff flags it as look-alike characters in source.
BANG, QUESTION = "\uff01", "\uff1f"
PROSE = (
    "Stratus stores vectors. It embeds queries! Does it chunk text? Yes.\n\n"
    "A second paragraph follows here. It has two sentences.\n\n\n"
    "Third."
)


# --- exact behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "split_by", "size", "overlap", "expected"),
    [
        # none: the whole text, stripped, one chunk whatever its length.
        ("  hello world  ", "none", 3, 0, ["hello world"]),
        ("x" * 50, "none", 10, 0, ["x" * 50]),
        # sentences, packed up to the size, joined by one space.
        (
            "One. Two! Three? Four.",
            "sentences",
            10,
            0,
            ["One. Two!", "Three?", "Four."],
        ),
        ("One. Two! Three? Four.", "sentences", 100, 0, ["One. Two! Three? Four."]),
        # a decimal point, an inner dot and a closing quote.
        (
            'Pi is 3.14. He said "stop." Then left.',
            "sentences",
            15,
            0,
            ["Pi is 3.14.", 'He said "stop."', "Then left."],
        ),
        # CJK sentence ends need no following space.
        (f"你好。世界{BANG}好吗{QUESTION}", "sentences", 3, 0, ["你好。", f"世界{BANG}", f"好吗{QUESTION}"]),
        # overlap: whole trailing sentences that fit in chunk_overlap characters.
        (
            "Aa. Bb. Cc. Dd.",
            "sentences",
            11,
            3,
            ["Aa. Bb. Cc.", "Cc. Dd."],
        ),
        # a sentence too long is cut at whitespace, then hard when a word alone is too long.
        ("aaaa bbbb cccc", "sentences", 9, 0, ["aaaa bbbb", "cccc"]),
        ("abcdefghijkl", "sentences", 5, 0, ["abcde", "fghij", "kl"]),
        # paragraphs: blank lines (even with spaces or CRLF) separate; packed with a blank line.
        ("p1\nline two\n\n \n\np2\r\n\r\np3", "paragraphs", 100, 0, ["p1\nline two\n\np2\n\np3"]),
        ("p1\n\np2\n\np3", "paragraphs", 6, 0, ["p1\n\np2", "p3"]),
        ("p1\n\np2\n\np3", "paragraphs", 6, 2, ["p1\n\np2", "p2\n\np3"]),
        # characters: exact windows over the text as it is.
        ("abcdefghij", "characters", 4, 0, ["abcd", "efgh", "ij"]),
        ("abcdefghij", "characters", 4, 1, ["abcd", "defg", "ghij"]),
        ("abcdefghij", "characters", 10, 9, ["abcdefghij"]),
        ("ab      cd", "characters", 3, 0, ["ab ", "  c", "d"]),  # blank windows are skipped
        ("héllo wörld 🙂", "characters", 5, 0, ["héllo", " wörl", "d 🙂"]),
    ],
)
def test_chunks_are_the_documented_ones(
    text: str, split_by: str, size: int, overlap: int, expected: list[str]
) -> None:
    assert chunk_text(text, split_by, size, overlap) == expected


@pytest.mark.parametrize("split_by", ["none", "sentences", "paragraphs", "characters"])
@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n"])
def test_blank_text_gives_no_chunks(text: str, split_by: str) -> None:
    assert chunk_text(text, split_by, 10, 0) == []


@pytest.mark.parametrize(
    ("split_by", "size", "overlap", "field"),
    [
        ("words", 10, 0, "params.split_by"),
        ("sentences", 0, 0, "params.chunk_size"),
        ("sentences", 10, 10, "params.chunk_overlap"),
        ("characters", 10, -1, "params.chunk_overlap"),
    ],
)
def test_bad_arguments_are_refused_naming_the_parameter(
    split_by: str, size: int, overlap: int, field: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        chunk_text("text", split_by, size, overlap)
    assert caught.value.details["field"] == field


# --- properties over awkward inputs -------------------------------------------------------------

AWKWARD = [
    PROSE,
    "word " * 300,
    "x" * 2500,  # longer than any size, no separator at all
    "a\u0301b\u0301c\u0301 " * 40,  # combining marks
    "😀🎉🚀 " * 60 + "👩‍👩‍👧 family",  # astral characters and a ZWJ sequence
    f"日本語の文章です。二つ目の文です{BANG}三つ目{QUESTION}" * 10,
    "Line one\nLine two\nLine three\n" * 20,
    "\n\n\nLeading and trailing blank lines.\n\n\n",
    "Short.",
]
SETTINGS = [(1, 0), (7, 0), (7, 3), (50, 0), (50, 49), (200, 40), (1000, 0)]


def _non_space(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
@pytest.mark.parametrize("split_by", ["sentences", "paragraphs", "characters"])
def test_no_chunk_is_blank_or_longer_than_chunk_size(
    text: str, split_by: str, size: int, overlap: int
) -> None:
    chunks = chunk_text(text, split_by, size, overlap)
    assert chunks
    assert all(chunk.strip() and len(chunk) <= size for chunk in chunks)
    assert chunk_text(text, split_by, size, overlap) == chunks  # deterministic


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize("size", [1, 7, 50, 1000])
@pytest.mark.parametrize("split_by", ["sentences", "paragraphs", "characters"])
def test_without_overlap_every_non_space_character_is_kept_once_in_order(
    text: str, split_by: str, size: int
) -> None:
    chunks = chunk_text(text, split_by, size, 0)
    assert _non_space("".join(chunks)) == _non_space(text)


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize(("size", "overlap"), [(7, 3), (50, 49), (200, 40)])
def test_character_windows_share_exactly_the_overlap(text: str, size: int, overlap: int) -> None:
    # Repeated up to at least two windows, so every case has neighbours to compare.
    text = text * math.ceil(2 * size / len(text))
    windows = _raw_windows(text, size, overlap)
    assert all(window.strip() for window in windows), "no window may be blank: it would be skipped"
    chunks = chunk_text(text, "characters", size, overlap)
    assert chunks == windows
    assert len(chunks) >= 2
    for before, after in itertools.pairwise(chunks):
        assert before[-overlap:] == after[:overlap]


def _raw_windows(text: str, size: int, overlap: int) -> list[str]:
    step = size - overlap
    starts = range(0, max(len(text) - overlap, 1), step)
    return [text[start : start + size] for start in starts]


# Distinct sentences, so a chunk's sentences can be told apart and traced back.
NUMBERED = " ".join(f"Sentence {number} says {'more ' * (number % 7)}here." for number in range(60))


@pytest.mark.parametrize(
    ("size", "overlap"), [(40, 0), (60, 20), (80, 79), (120, 40), (300, 100), (300, 299)]
)
def test_packed_overlap_carries_whole_trailing_sentences_and_adds_at_least_one_new(
    size: int, overlap: int
) -> None:
    chunks = [_sentences_of(chunk) for chunk in chunk_text(NUMBERED, "sentences", size, overlap)]
    new_sentences = list(chunks[0])
    for before, after in itertools.pairwise(chunks):
        carried = max(
            count for count in range(len(after) + 1) if before[len(before) - count :] == after[:count]
        )
        assert carried < len(after), "every chunk adds at least one new sentence"
        assert len(" ".join(after[:carried])) <= overlap
        new_sentences.extend(after[carried:])
    # The new sentences of every chunk, in order, are the text's sentences, each exactly once.
    assert " ".join(new_sentences) == NUMBERED


def _sentences_of(chunk: str) -> list[str]:
    first, *rest = chunk.split(" Sentence ")
    return [first, *(f"Sentence {sentence}" for sentence in rest)]


def test_none_ignores_chunk_size_and_keeps_the_text_whole() -> None:
    assert chunk_text(PROSE, "none", 5, 0) == [PROSE.strip()]


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["notes.txt", "README.md", "dir/UPPER.TXT", "a.b.Md"])
def test_text_files_are_read_as_utf8_without_a_byte_order_mark(name: str) -> None:
    assert extract_text_from_file(name, "\ufeffhéllo 🙂\nline".encode()) == "héllo 🙂\nline"


def test_an_empty_file_is_empty_text() -> None:
    assert extract_text_from_file("empty.txt", b"") == ""
    assert chunk_text(extract_text_from_file("empty.txt", b""), "sentences", 10, 0) == []


def test_undecodable_text_is_refused_saying_where() -> None:
    with pytest.raises(BadRequestError) as caught:
        extract_text_from_file("latin1.txt", "café".encode("latin-1"))
    assert caught.value.details == {"file": "latin1.txt", "offset": 3}
    assert "not UTF-8" in caught.value.message and "0xe9" in caught.value.message


def test_json_gives_every_string_depth_first_in_document_order() -> None:
    document = {
        "title": "Song",
        "tags": ["pop", {"nested": "deep", "n": 3, "ok": True}, None, "  "],
        "artist": {"name": "Ada", "albums": [{"title": "First"}]},
        "year": 2020,
    }
    data = json.dumps(document).encode()
    assert extract_text_from_file("track.json", data) == "Song\npop\ndeep\nAda\nFirst"


@pytest.mark.parametrize(
    ("data", "expected"), [(b'"just a string"', "just a string"), (b"42", ""), (b"[]", "")]
)
def test_json_scalars_and_empty_containers(data: bytes, expected: str) -> None:
    assert extract_text_from_file("x.json", data) == expected


def test_nested_json_is_read_and_too_deep_json_is_a_clear_400() -> None:
    nested = ("[" * 500 + '"bottom"' + "]" * 500).encode()
    assert extract_text_from_file("nested.json", nested) == "bottom"
    too_deep = ("[" * 100_000 + "]" * 100_000).encode()
    with pytest.raises(BadRequestError) as caught:
        extract_text_from_file("deep.json", too_deep)
    assert "nested too deeply" in caught.value.message


def test_malformed_json_is_refused_with_line_and_column() -> None:
    with pytest.raises(BadRequestError) as caught:
        extract_text_from_file("bad.json", b'{"a": 1,\n "b": }')
    assert caught.value.details == {"file": "bad.json", "line": 2, "column": 7}


@pytest.mark.parametrize("name", ["photo.png", "archive", "doc.pdf"])
def test_other_files_are_refused_listing_the_supported_extensions(name: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        extract_text_from_file(name, b"data")
    assert caught.value.details["supported_extensions"] == [".txt", ".md", ".json"]


# --- work and size bounds ----------------------------------------------------------------------


def _reference_fit(unit: str, size: int) -> list[str]:
    """The cutting rule written plainly (copying the rest at every cut, as the first chunker did):
    the linear one must cut exactly the same."""
    pieces: list[str] = []
    rest = unit
    while len(rest) > size:
        window = rest[: size + 1]
        cut = max((i for i, char in enumerate(window) if char.isspace()), default=-1)
        head, rest = (rest[:cut], rest[cut + 1 :]) if cut > 0 else (rest[:size], rest[size:])
        rest = rest.strip()
        if head.strip():
            pieces.append(head.strip())
    if rest.strip():
        pieces.append(rest.strip())
    return pieces


# Units as the splitters hand them over (stripped): the awkward texts, all of them run together, and
# one mixing several kinds of whitespace.
UNITS = [text.strip() for text in AWKWARD] + [" ".join(AWKWARD).strip(), ("ab  c\u3000d\te " * 9).strip()]


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_long_sentences_are_cut_as_the_plain_rule_cuts_them(unit: str, size: int) -> None:
    assert list(chunking._fit(unit, size)) == _reference_fit(unit, size)


def test_a_huge_text_without_whitespace_or_sentence_ends_is_chunked_in_linear_time() -> None:
    # 16 MB (the extractor reads up to 20 MB): ~0.6 s here; cutting by copying the rest of the text
    # at every cut took 22 s. The bound is generous: it fails only a quadratic chunker.
    text = "x" * 16_000_000
    started = time.perf_counter()
    chunks = chunk_text(text, "sentences", 1000)
    elapsed = time.perf_counter() - started
    assert len(chunks) == 16_000 and all(len(chunk) == 1000 for chunk in chunks)
    assert elapsed < 8.0, f"{elapsed:.1f} s for 16 MB"


@pytest.mark.parametrize("split_by", ["sentences", "paragraphs", "characters"])
def test_past_max_chunks_the_text_is_refused_without_making_the_rest(
    split_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = 0
    real_fit = chunking._fit

    def counted_fit(unit: str, size: int) -> Iterator[str]:
        nonlocal made
        for piece in real_fit(unit, size):
            made += 1
            yield piece

    monkeypatch.setattr(chunking, "_fit", counted_fit)
    text = "Short one. " * 100_000  # 100k sentences, each a chunk of its own at this size
    assert len(chunk_text(text, split_by, 11, max_chunks=200_000)) == 100_000
    made = 0
    with pytest.raises(chunking.TooManyChunksError) as refused:
        chunk_text(text, split_by, 11, max_chunks=10)
    assert refused.value.status == 400
    assert refused.value.details == {"field": "params.chunk_size", "max_chunks": 10}
    assert "more than 10 chunks" in refused.value.message
    assert made <= 12  # the chunks kept, the one past the cap and the one that closed it


def test_exactly_max_chunks_is_accepted() -> None:
    assert chunk_text("a. b. c.", "sentences", 2, max_chunks=3) == ["a.", "b.", "c."]
    with pytest.raises(chunking.TooManyChunksError):
        chunk_text("a. b. c.", "sentences", 2, max_chunks=2)
