"""The text-index tokenizer's bounds: however its options were stored, one string value makes at
most MAX_TEXT_TOKENS_PER_VALUE tokens of at most MAX_TEXT_TOKEN_LEN characters."""

from __future__ import annotations

import time

from stratus import limits
from stratus.adapters.text_tokens import TextIndexOptions, document_tokens, text_matches


def test_a_stored_index_with_a_huge_max_token_len_makes_short_prefixes_only() -> None:
    # Stored before the request models bounded the options: prefix, max_token_len 20000. One word
    # of 20 KiB made 20,000 prefixes, 200 MB of strings (3.3 s and +1 GB per upsert).
    legacy = TextIndexOptions(tokenizer="prefix", min_token_len=1, max_token_len=20_000)
    word = "a" * 20 * 1024
    started = time.perf_counter()
    tokens = document_tokens(word, legacy)
    assert time.perf_counter() - started < 1.0
    assert tokens == ["a" * size for size in range(1, limits.MAX_TEXT_TOKEN_LEN + 1)]
    assert not text_matches(word, word[: limits.MAX_TEXT_TOKEN_LEN + 1], legacy)
    assert text_matches(word, word[: limits.MAX_TEXT_TOKEN_LEN], legacy)


def test_one_value_makes_at_most_the_token_cap_the_first_ones_met() -> None:
    words = [f"w{number:06d}" for number in range(limits.MAX_TEXT_TOKENS_PER_VALUE + 100)]
    options = TextIndexOptions(tokenizer="word", min_token_len=1, max_token_len=40)
    tokens = document_tokens(" ".join(words), options)
    assert tokens == sorted(words[: limits.MAX_TEXT_TOKENS_PER_VALUE])
    prefixes = document_tokens(" ".join(words), TextIndexOptions(tokenizer="prefix", min_token_len=1))
    assert len(prefixes) == limits.MAX_TEXT_TOKENS_PER_VALUE


def test_values_within_the_bounds_index_every_token() -> None:
    options = TextIndexOptions(tokenizer="prefix", min_token_len=2, max_token_len=4)
    assert document_tokens("Stratus stores", options) == ["st", "sto", "stor", "str", "stra"]
