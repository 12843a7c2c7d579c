"""Every limit of api.md in one place, so code, docs and tests quote the same numbers."""

MAX_BODY_BYTES = 6 * 1024 * 1024
MAX_DOCUMENTS_PER_UPSERT = 1000
MIN_DIMENSION = 1
MAX_DIMENSION = 20000
MAX_PAYLOAD_BYTES = 40 * 1024
MAX_QUERIES_PER_SEARCH = 5
MIN_TOP_K = 1
MAX_TOP_K = 1000
MAX_FILTER_DEPTH = 8
# A filter's width, in cost units: each condition costs what compiling and planning it costs
# LanceDB, relative to an `eq` (measured on a 10-row table, so the cost is the plan's, not the
# scan's: eq 0.3 ms, a numeric range 7-15 ms, contains 2 ms, one `in` value 0.04 ms). `in` and
# `nin` cost one unit per value and `text` one per word. At the budget the slowest filters (64
# ranges, 256 contains, 2048 equalities) take 1-1.6 s to query a small table; unbounded, one OR of
# 30k conditions took 29 s and 40k crashed the process. Two full `in` lists and more still fit.
MAX_FILTER_COST = 2048
FILTER_OPERATOR_COSTS = {
    "gt": 32,
    "gte": 32,
    "lt": 32,
    "lte": 32,
    "contains": 8,
    "starts_with": 8,
    "ends_with": 8,
}
# `warnings` of a search: one per filtered field without a ready payload index, at most this many.
MAX_FILTER_WARNINGS = 10
MIN_PAGE_SIZE = 1
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 10
MAX_IN_VALUES = 1000
MAX_VECTOR_INDEXES = 16
# A namespace's own payload indexes, in one request and in all (those its feature extractors
# require and the protected system fields are not counted): each is a real index to build and
# maintain, and the namespace's metadata item must stay far below DynamoDB's 400 KB.
MAX_PAYLOAD_INDEXES = 64
NAMESPACE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
VECTOR_INDEX_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
# Anything printable except "/" (ids travel in URL paths), up to 256 characters.
DOCUMENT_ID_PATTERN = r"^[^\x00-\x1f\x7f/]{1,256}$"
MAX_NAME_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 2000

# Managed content.
MAX_BLOBS_PER_OBJECT = 16
# Objects per `POST /v1/buckets/{id}/objects/batch` (the Mixpeek SDK's own bound).
MAX_OBJECTS_PER_BATCH = 100
# An object's metadata is copied into every document made from it, so it must leave room in the
# 40 KB payload for the extracted text.
MAX_OBJECT_METADATA_BYTES = 16 * 1024
# Extracted text kept in a document's payload (`text`); longer chunks are embedded whole but
# stored cut, with `text_truncated: true` (Pinecone's metadata limit is 40 KB per record).
MAX_PAYLOAD_TEXT_BYTES = 16 * 1024
# text_extractor's chunk_size, in characters: a chunk is at least a sentence, and at most what
# every text inference service of the catalogue embeds in one input.
MIN_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 100_000
# Documents one object makes for one collection (chunks of its texts, plus its images): each is
# an embedding and a vector write, so this bounds one object's share of an extractor invocation
# (~32 embedding calls of 64 texts). A text that makes more is refused; the object is FAILED.
MAX_CHUNKS_PER_OBJECT = 2000
# Pixels an object's images may declare in all (each is also at most 50 MP, the image models'
# own limit): decoding is the extractor's costliest step per byte, and a few KB of PNG can declare
# a 7000x7000 canvas. Sixteen 12-megapixel photos fit.
MAX_OBJECT_IMAGE_PIXELS = 200_000_000

# Free-form JSON the metadata store keeps as sent (each also follows DynamoDB's rules for numbers,
# keys and nesting: stratus.models.stored_json). A DynamoDB item holds at most 400 KB, and a
# namespace's item holds up to MAX_PAYLOAD_INDEXES payload indexes of its own.
MAX_BUCKET_SCHEMA_BYTES = 64 * 1024
MAX_FIELD_SCHEMA_BYTES = 4 * 1024

# A `text` payload index: tokens of 1..40 characters (the prefix tokenizer indexes every prefix of
# a word up to max_token_len, so the bound is what keeps one long word from making thousands of
# long tokens), and at most this many distinct tokens per indexed string.
MAX_TEXT_TOKEN_LEN = 40
MAX_TEXT_TOKENS_PER_VALUE = 32_768
MAX_INPUT_MAPPINGS_BYTES = 16 * 1024
