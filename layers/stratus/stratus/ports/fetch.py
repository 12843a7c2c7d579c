"""The URL-fetch port: the bytes behind a URL a client sent (a blob's `data`, a query's `url`)."""

from __future__ import annotations

from typing import Protocol


class UrlFetcher(Protocol):
    def fetch(self, url: str, field: str) -> bytes:
        """The bytes at `url`; `BadRequestError` naming `field` if the URL cannot be used (not
        https, a private address, too large, too slow...). Implemented by `stratus.url_fetch`."""
        ...
