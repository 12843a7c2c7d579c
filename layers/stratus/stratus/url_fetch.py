"""Fetching a URL a client sent (a blob's `data`, a search query's `url`): once, with a size cap and
a timeout, only over https and only from public addresses, so a URL can never make the service
read its own network (SSRF). Tests and local demos may allow http and loopback
(`STRATUS_ALLOW_PRIVATE_URLS`).

The host name is resolved once; the addresses checked are the addresses connected to. Resolving
again to connect (as urllib does) would let a DNS answer that changes in between, a rebinding
attack, lead a checked public name to a private address. TLS still verifies the certificate
against the name in the URL, which is also the SNI and the Host header.

The timeout bounds the whole fetch, not each wait for the socket: a server that drips its answer a
byte at a time would otherwise hold the function until Lambda stops it."""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse

from stratus import limits
from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.settings import Settings

# Content fetched from a URL may be as large as a request body could carry inline.
_MAX_FETCH_BYTES = limits.MAX_BODY_BYTES
_DEFAULT_PORTS = {"https": 443, "http": 80}
_READ_CHUNK_BYTES = 64 * 1024


def fetch_url(url: str, field: str, settings: Settings) -> bytes:
    """The bytes at `url` (a client's blob or query URL); a 400 naming `field` if it cannot be used."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https" and not (settings.allow_private_urls and parsed.scheme == "http"):
        raise BadRequestError(f"{field}: only https URLs are fetched", {"field": field})
    host = parsed.hostname
    if not host:
        raise BadRequestError(f"{field}: the URL has no host", {"field": field})
    try:
        port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    except ValueError:
        raise BadRequestError(
            f"{field}: the URL's port is not a number from 0 to 65535", {"field": field}
        ) from None
    timeout = settings.url_fetch_timeout_seconds
    deadline = time.monotonic() + timeout
    addresses = _resolve(host, port, field, public_only=not settings.allow_private_urls)
    connection = _connection(parsed.scheme, host, port, addresses, timeout)
    target = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
    try:
        connection.request("GET", target, headers={"User-Agent": "stratus/1"})
        response = connection.getresponse()
        if response.status != 200:
            # No redirect is followed: it could lead from a checked public host to a private one.
            raise _Refused(f"it answered {response.status}")
        data = _read_before(connection, response, deadline, timeout)
    except (OSError, http.client.HTTPException, ValueError, _Refused) as error:  # timeouts are OSErrors
        raise BadRequestError(
            f"{field}: the URL could not be fetched ({str(error) or type(error).__name__}); check that it "
            "is public and answers 200 without a redirect, or send the data inline",
            {"field": field},
        ) from None
    finally:
        connection.close()
    if len(data) > _MAX_FETCH_BYTES:
        raise PayloadTooLargeError(
            f"{field}: the URL's content exceeds {_MAX_FETCH_BYTES} bytes",
            {"field": field, "limit": _MAX_FETCH_BYTES},
        )
    return data


class _Refused(Exception):
    """A fetch that reached the server but cannot be used; the text says why."""


def _read_before(
    connection: http.client.HTTPConnection,
    response: http.client.HTTPResponse,
    deadline: float,
    timeout: float,
) -> bytes:
    """The body, up to one byte past the cap, read before `deadline`: each wait for the socket is
    given only the time left."""
    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_FETCH_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Refused(f"it took longer than {timeout:g} s in all")
        if connection.sock is not None:
            connection.sock.settimeout(left)
        chunk = response.read1(min(_READ_CHUNK_BYTES, _MAX_FETCH_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _resolve(host: str, port: int, field: str, *, public_only: bool) -> list[str]:
    """The host's addresses in the resolver's order of preference; a 400 if any is not public."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise BadRequestError(
            f"{field}: the URL's host '{host}' does not resolve", {"field": field}
        ) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if public_only and not all(_is_public(address) for address in addresses):
        raise BadRequestError(
            f"{field}: the URL's host resolves to a private or local address; only public URLs are fetched",
            {"field": field},
        )
    return addresses


def _is_public(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_global


def _connection(
    scheme: str, host: str, port: int, addresses: list[str], timeout: float
) -> http.client.HTTPConnection:
    """A connection to `host` whose socket goes to one of `addresses` and nowhere else."""
    connection = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
        if scheme == "https"
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    # http.client opens its socket through this attribute with (host, port); everything else
    # (Host header, SNI, certificate check) keeps using `host`.
    connection._create_connection = functools.partial(_connect_to_any, addresses)  # type: ignore[attr-defined]
    return connection


def _connect_to_any(
    addresses: list[str],
    host_and_port: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """The first of `addresses` that accepts, as socket.create_connection tries a name's addresses."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((address, host_and_port[1]), timeout, source_address)
        except OSError as refused:
            error = refused
    raise error


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
