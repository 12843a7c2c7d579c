"""Lists of the few: namespaces of an organization, buckets and collections of a namespace.

They are product-sized sets (tens, not millions), so filters (the DSL of api.md), search, sort
(one or several keys) and paging run in memory over the records read for the request, with an
opaque keyset cursor (the last item's sort values and id) or an offset."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from stratus import limits
from stratus.errors import BadRequestError
from stratus.filters import evaluate, parse_filter, value_at
from stratus.models.common import Pagination
from stratus.models.listing import CountedListResponse, ListBody
from stratus.services.pagination import decode_cursor, encode_cursor

T = TypeVar("T")
R = TypeVar("R", bound=CountedListResponse[Any])


@dataclass(frozen=True)
class PagingParams:
    """The paging query parameters the SDK sends on every list operation (GET and POST)."""

    limit: int | None = None
    page_size: int | None = None
    offset: int | None = None
    page: int | None = None
    cursor: str | None = None
    include_total: bool | None = None


@dataclass(frozen=True)
class ListQuery:
    """A list request with the body and the query string merged (a body value wins)."""

    filters: dict[str, Any] | None
    sorts: tuple[tuple[str, bool], ...]  # (dot path, descending)
    search: str | None
    limit: int
    offset: int
    cursor: str | None
    include_total: bool
    case_sensitive: bool

    @property
    def narrowed(self) -> bool:
        """True when filters or a search leave out some items (the total is then counted)."""
        return bool(self.filters) or bool(self.search)


def list_query(body: ListBody | None, params: PagingParams | None = None) -> ListQuery:
    body = body or ListBody()
    params = params or PagingParams()
    limit = _first(body.limit, body.page_size, params.limit, params.page_size) or limits.DEFAULT_PAGE_SIZE
    offset = _first(body.offset, params.offset)
    page = _first(body.page, params.page)
    if offset is None and page is not None:
        offset = (page - 1) * limit
    sorts = [*(body.sorts or []), *([body.sort] if body.sort is not None and not body.sorts else [])]
    return ListQuery(
        filters=body.filters or None,
        sorts=tuple((sort.field, sort.direction == "desc") for sort in sorts),
        search=body.search or None,
        limit=limit,
        offset=offset or 0,
        cursor=_first(body.cursor, params.cursor),
        include_total=bool(_first(body.include_total, params.include_total)),
        case_sensitive=body.case_sensitive,
    )


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    matching: int  # items matching filters and search, over all pages


@dataclass(frozen=True)
class Listing:
    """How one resource is listed: its id field, the fields a search reads, the fields it may be
    sorted by, and its default order."""

    id_field: str
    search_fields: tuple[str, ...]
    sortable: tuple[str, ...]
    default_sort: tuple[tuple[str, bool], ...]


def page_in_memory(
    items: Sequence[T], as_record: Callable[[T], dict[str, Any]], query: ListQuery, listing: Listing
) -> Page[T]:
    """Filter, search, sort and cut one page of `items` (all of them, read for this request)."""
    node = parse_filter(_with_case(query.filters, query.case_sensitive), "filters")
    sorts = query.sorts or listing.default_sort
    for position, (field, _) in enumerate(sorts):
        if field not in listing.sortable:
            location = "sort.field" if len(sorts) == 1 else f"sorts[{position}].field"
            raise BadRequestError(
                f"{location} {field!r} is not sortable; use one of {', '.join(listing.sortable)}",
                {"field": location, "allowed": list(listing.sortable)},
            )
    needle = _folded(query.search, query.case_sensitive) if query.search else None
    keyed: list[tuple[list[Any], T]] = []
    for item in items:
        record = as_record(item)
        if node is not None and not evaluate(node, record):
            continue
        if needle is not None and not any(
            needle in _folded(str(value_at(record, tuple(f.split("."))) or ""), query.case_sensitive)
            for f in listing.search_fields
        ):
            continue
        values = [value_at(record, tuple(field.split("."))) for field, _ in sorts]
        keyed.append(([*values, str(record[listing.id_field])], item))
    compare = _comparator([descending for _, descending in sorts])

    def by_key(a: tuple[list[Any], T], b: tuple[list[Any], T]) -> int:
        return compare(a[0], b[0])

    keyed.sort(key=functools.cmp_to_key(by_key))
    start = query.offset
    if query.cursor:
        after = _cursor_values(query.cursor, len(sorts) + 1)
        start = next((i for i, (key, _) in enumerate(keyed) if compare(key, after) > 0), len(keyed))
    page = keyed[start : start + query.limit]
    more = start + query.limit < len(keyed)
    return Page(
        items=[item for _, item in page],
        next_cursor=encode_cursor(page[-1][0]) if more and page else None,
        matching=len(keyed),
    )


def _with_case(filters: dict[str, Any] | None, case_sensitive: bool) -> dict[str, Any] | None:
    """The list body's `case_sensitive` is the default of the filter tree (a group's own wins)."""
    if filters and case_sensitive and "case_sensitive" not in filters:
        return {**filters, "case_sensitive": True}
    return filters


def _folded(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _rank(value: Any) -> tuple[int, Any]:
    """A total order over JSON values: null, then numbers, then strings, then anything else."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool | int | float):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value)
    return (3, repr(value))


def _comparator(descending: list[bool]) -> Callable[[list[Any], list[Any]], int]:
    """Compares two sort keys (values…, id); the id, last and ascending, breaks ties."""
    directions = [*descending, False]

    def compare(a: list[Any], b: list[Any]) -> int:
        for left, right, desc in zip(a, b, directions, strict=True):
            ra, rb = _rank(left), _rank(right)
            if ra != rb:
                order = -1 if ra < rb else 1
                return -order if desc else order
        return 0

    return compare


def _cursor_values(cursor: str, length: int) -> list[Any]:
    value = decode_cursor(cursor)
    if not isinstance(value, list) or len(value) != length or not isinstance(value[-1], str):
        raise BadRequestError(
            "cursor is not a cursor this list returned (was the sort changed?); pass next_cursor from "
            "the previous page with the same sort",
            {"field": "cursor"},
        )
    return value


def read_all(read_page: Callable[[str | None], tuple[Sequence[T], str | None]]) -> list[T]:
    """Every item of a resource a repository lists in pages (`read_page(cursor)` → items, next)."""
    found: list[T] = []
    cursor: str | None = None
    while True:
        items, cursor = read_page(cursor)
        found.extend(items)
        if cursor is None:
            return found


def counted_answer(
    response: type[R],
    page: Page[T],
    describe: Callable[[T], Any],
    include_total: bool,
    total_count: int | None = None,
) -> R:
    """The list answer of one page: its items described, its cursor, `total_count` (the matches
    unless the caller counts otherwise)."""
    return response(
        results=[describe(item) for item in page.items],
        pagination=Pagination(
            page_size=len(page.items),
            next_cursor=page.next_cursor,
            total=page.matching if include_total else None,
        ),
        total_count=page.matching if total_count is None else total_count,
    )
