"""The tokenizer of a `text` payload index, in plain Python: the reference both stores follow
(options and matching rules: docs/vector-stores.md, "Text payload indexes")."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stratus import limits
from stratus.filters import And, Condition, FilterNode, Not, Or, evaluate, lookup
from stratus.models.namespaces import PayloadIndexConfig

Tokenizer = Literal["word", "whitespace", "prefix", "multilingual"]
_TOKENIZERS: frozenset[str] = frozenset({"word", "whitespace", "prefix", "multilingual"})
_WORD = re.compile(r"\w+", re.UNICODE)

DEFAULT_MIN_TOKEN_LEN = 2
DEFAULT_MAX_TOKEN_LEN = 15


@dataclass(frozen=True)
class TextIndexOptions:
    tokenizer: Tokenizer = "word"
    min_token_len: int = DEFAULT_MIN_TOKEN_LEN
    max_token_len: int = DEFAULT_MAX_TOKEN_LEN
    lowercase: bool = True

    @classmethod
    def of(cls, index: PayloadIndexConfig) -> TextIndexOptions:
        schema = index.field_schema or {}
        tokenizer = schema.get("tokenizer", "word")
        if tokenizer not in _TOKENIZERS:
            tokenizer = "word"  # the request model validates; stay total on stored data
        return cls(
            tokenizer=tokenizer,
            min_token_len=_int_option(schema.get("min_token_len"), DEFAULT_MIN_TOKEN_LEN),
            max_token_len=_int_option(schema.get("max_token_len"), DEFAULT_MAX_TOKEN_LEN),
            lowercase=bool(schema.get("lowercase", True)),
        )


def _int_option(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def text_indexes(indexes: Iterable[PayloadIndexConfig]) -> dict[tuple[str, ...], TextIndexOptions]:
    """The text indexes of a space by field path (the last one wins for a repeated field)."""
    return {
        tuple(index.field_name.split(".")): TextIndexOptions.of(index)
        for index in indexes
        if index.type == "text"
    }


def _words(text: str, options: TextIndexOptions) -> list[str]:
    if options.tokenizer == "whitespace":
        words = text.split()
    elif options.tokenizer == "multilingual":
        decomposed = unicodedata.normalize("NFKD", text)
        words = _WORD.findall("".join(char for char in decomposed if not unicodedata.combining(char)))
    else:
        words = _WORD.findall(text)
    return [word.lower() for word in words] if options.lowercase else words


def document_tokens(text: str, options: TextIndexOptions) -> list[str]:
    """The tokens the index holds for one string value, sorted and unique: the first
    MAX_TEXT_TOKENS_PER_VALUE met, none longer than MAX_TEXT_TOKEN_LEN (the request models refuse
    longer bounds; an index stored before they did is held to them here)."""
    low, high = options.min_token_len, min(options.max_token_len, limits.MAX_TEXT_TOKEN_LEN)
    tokens: set[str] = set()
    for word in _words(text, options):
        if options.tokenizer == "prefix":
            candidates: Iterable[str] = (word[:size] for size in range(low, min(high, len(word)) + 1))
        else:
            candidates = (word,) if low <= len(word) <= high else ()
        for token in candidates:
            tokens.add(token)
            if len(tokens) >= limits.MAX_TEXT_TOKENS_PER_VALUE:
                return sorted(tokens)
    return sorted(tokens)


def query_tokens(text: str, options: TextIndexOptions) -> list[str]:
    """The tokens a query must all find, unique, in order."""
    return list(dict.fromkeys(_words(text, options)))


def indexable(token: str, options: TextIndexOptions) -> bool:
    """Whether an index can hold `token` at all (else a query asking for it matches nothing)."""
    return options.min_token_len <= len(token) <= options.max_token_len


def text_matches(found: Any, query: str, options: TextIndexOptions) -> bool:
    if not isinstance(found, str):
        return False
    held = set(document_tokens(found, options))
    wanted = query_tokens(query, options)
    return bool(wanted) and all(token in held for token in wanted)


def evaluate_indexed(
    node: FilterNode, payload: Mapping[str, Any], indexes: Mapping[tuple[str, ...], TextIndexOptions]
) -> bool:
    """`stratus.filters.evaluate`, except that `text` on a field with a text index follows the
    index's tokenizer (see the module docstring)."""
    if not indexes:
        return evaluate(node, payload)
    if isinstance(node, And):
        return all(evaluate_indexed(child, payload, indexes) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate_indexed(child, payload, indexes) for child in node.children)
    if isinstance(node, Not):
        return not evaluate_indexed(node.child, payload, indexes)
    options = indexes.get(node.field) if isinstance(node, Condition) and node.operator == "text" else None
    if options is None:
        return evaluate(node, payload)
    return text_matches(lookup(payload, node.field), str(node.value), options)
