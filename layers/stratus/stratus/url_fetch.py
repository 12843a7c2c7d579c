"""Fetching a URL a client sent (a blob's `data`, a search query's `url`): once, with a size cap and
a timeout, only over https and only from public addresses, so a URL can never make the service
read its own network (SSRF). Tests and local demos may allow http and loopback
(`STRATUS_ALLOW_PRIVATE_URLS`).

Known limit: the address is checked, then urllib resolves the name again to connect; a DNS answer
that changes in between (rebinding) is not caught. Deployed functions run outside a VPC, where
there is no private network to reach."""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
import urllib.request

from stratus import limits
from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.settings import Settings

# Content fetched from a URL may be as large as a request body could carry inline.
_MAX_FETCH_BYTES = limits.MAX_BODY_BYTES


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead from a checked public host to a private one: refuse them all."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


_OPENER = urllib.request.build_opener(_NoRedirects)


def fetch_url(url: str, field: str, settings: Settings) -> bytes:
    """The bytes at `url` (a client's blob or query URL); a 400 naming `field` if it cannot be used."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https" and not (settings.allow_private_urls and parsed.scheme == "http"):
        raise BadRequestError(f"{field}: only https URLs are fetched", {"field": field})
    if not parsed.hostname:
        raise BadRequestError(f"{field}: the URL has no host", {"field": field})
    if not settings.allow_private_urls:
        _check_public_host(parsed.hostname, parsed.port or 443, field)
    request = urllib.request.Request(url, headers={"User-Agent": "stratus/1"})
    try:
        with _OPENER.open(request, timeout=settings.url_fetch_timeout_seconds) as response:
            data: bytes = response.read(_MAX_FETCH_BYTES + 1)
    except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts are OSErrors
        raise BadRequestError(
            f"{field}: the URL could not be fetched ({type(error).__name__}); check that it is public and "
            "answers 200 without a redirect, or send the data inline",
            {"field": field},
        ) from None
    if len(data) > _MAX_FETCH_BYTES:
        raise PayloadTooLargeError(
            f"{field}: the URL's content exceeds {_MAX_FETCH_BYTES} bytes",
            {"field": field, "limit": _MAX_FETCH_BYTES},
        )
    return data


def _check_public_host(host: str, port: int, field: str) -> None:
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except OSError:
        raise BadRequestError(
            f"{field}: the URL's host '{host}' does not resolve", {"field": field}
        ) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise BadRequestError(
                f"{field}: the URL's host resolves to a private or local address; only public URLs "
                "are fetched",
                {"field": field},
            )
