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

# Free-form JSON the metadata store keeps as sent (each also follows DynamoDB's rules for numbers,
# keys and nesting: stratus.models.stored_json). A DynamoDB item holds at most 400 KB, and a
# namespace's item holds up to MAX_PAYLOAD_INDEXES payload indexes of its own.
MAX_BUCKET_SCHEMA_BYTES = 64 * 1024
MAX_FIELD_SCHEMA_BYTES = 4 * 1024
MAX_INPUT_MAPPINGS_BYTES = 16 * 1024
