"""Fetching a URL a client sent (a blob's `data`, a search query's `url`): once, with a size cap and
a timeout, only over https and only from public addresses, so a URL can never make the service
read its own network (SSRF). Tests and local demos may allow http and loopback
(`STRATUS_ALLOW_PRIVATE_URLS`).

The host name is resolved once; the addresses checked are the addresses connected to. Resolving
again to connect (as urllib does) would let a DNS answer that changes in between, a rebinding
attack, lead a checked public name to a private address. TLS still verifies the certificate
against the name in the URL, which is also the SNI and the Host header.

One deadline, the timeout, bounds the whole fetch: the name's resolution (in a thread, waited for
no longer than the deadline: `getaddrinfo` itself has no timeout), every connection attempt (each
gets only the time left, however many addresses the name has) and the exchange (request, status
line, headers, body): a socket timeout alone bounds each wait, and a server that drips its answer
a byte at a time would hold the function until Lambda stops it.

A public address is a global one that embeds no IPv4 address: NAT64 (64:ff9b::/96, and the local
64:ff9b:1::/48), 6to4 (2002::/16), IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d)
addresses can all lead to an IPv4 host, private ones included, so they are refused."""

from __future__ import annotations

import contextlib
import functools
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Any

from stratus import limits
from stratus.errors import BadRequestError, PayloadTooLargeError
from stratus.settings import Settings

# Content fetched from a URL may be as large as a request body could carry inline.
_MAX_FETCH_BYTES = limits.MAX_BODY_BYTES
_DEFAULT_PORTS = {"https": 443, "http": 80}
_READ_CHUNK_BYTES = 64 * 1024
_EXPIRED_WAIT_SECONDS = 0.001
# IPv6 ranges that carry an IPv4 address (see the module docstring): refused whatever it is.
_EMBEDS_IPV4 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "::/96",
        "::ffff:0:0/96",
        "::ffff:0:0:0/96",
    )
)


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
    addresses = _resolve(host, port, field, deadline, public_only=not settings.allow_private_urls)
    connection = _connection(parsed.scheme, host, port, addresses, timeout, deadline)
    target = urllib.parse.urlunsplit(("", "", parsed.path or "/", parsed.query, ""))
    watchdog = _Watchdog(connection, max(deadline - time.monotonic(), _EXPIRED_WAIT_SECONDS))
    try:
        with watchdog:
            data = _get(connection, target, watchdog)
        if watchdog.expired:  # it fired as the last bytes came: what was read may be cut short
            raise TimeoutError
    except (OSError, http.client.HTTPException, ValueError, _Refused) as error:  # timeouts are OSErrors
        reason = (
            f"it took longer than {timeout:g} s in all"
            if watchdog.expired
            else str(error) or type(error).__name__
        )
        raise BadRequestError(
            f"{field}: the URL could not be fetched ({reason}); check that it is public and answers 200 "
            "without a redirect, or send the data inline",
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


def _get(connection: http.client.HTTPConnection, target: str, watchdog: _Watchdog) -> bytes:
    """The body of a 200 answer to GET `target`, up to one byte past the cap, read a chunk at a
    time so that an expired watchdog stops it between two chunks."""
    connection.request("GET", target, headers={"User-Agent": "stratus/1"})
    response = connection.getresponse()
    if response.status != 200:
        # No redirect is followed: it could lead from a checked public host to a private one.
        raise _Refused(f"it answered {response.status}")
    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_FETCH_BYTES and not watchdog.expired:
        chunk = response.read1(min(_READ_CHUNK_BYTES, _MAX_FETCH_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _Watchdog:
    """Once `seconds` have passed: `expired`, and the connection's socket shut down with a timeout
    too short for any wait, so the call reading it returns or fails at the next byte not already
    there (on Linux a shut-down socket still delivers bytes that arrive later, so the shutdown alone
    only wakes a waiting reader). One deadline for the exchange, however the bytes trickle."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection = connection
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        sock = self.connection.sock
        if sock is not None:
            # The plain socket's shutdown, also under TLS: it wakes the reader without touching the
            # TLS object the reader is using.
            with contextlib.suppress(OSError):  # already closed
                sock.settimeout(_EXPIRED_WAIT_SECONDS)
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _resolve(host: str, port: int, field: str, deadline: float, *, public_only: bool) -> list[str]:
    """The host's addresses in the resolver's order of preference; a 400 if any is not public."""
    try:
        infos = _getaddrinfo_until(host, port, deadline)
    except TimeoutError:
        raise BadRequestError(
            f"{field}: the URL's host '{host}' did not resolve in time", {"field": field}
        ) from None
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


def _getaddrinfo_until(host: str, port: int, deadline: float) -> list[Any]:
    """`socket.getaddrinfo` waited for until `deadline` at most. It cannot be interrupted, so it
    runs in a daemon thread that a stuck resolver keeps until its own timeouts end it."""
    answer: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def resolve() -> None:
        try:
            answer.extend(socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP))
        except BaseException as error:  # handed to the caller
            failure.append(error)
        finally:
            done.set()

    threading.Thread(target=resolve, name="stratus-url-resolve", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0.0)):
        raise TimeoutError
    if failure:
        raise failure[0]
    return answer


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in network for network in _EMBEDS_IPV4):
        return False
    return ip.is_global


def _connection(
    scheme: str, host: str, port: int, addresses: list[str], timeout: float, deadline: float
) -> http.client.HTTPConnection:
    """A connection to `host` whose socket goes to one of `addresses` and nowhere else."""
    connection = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls_context())
        if scheme == "https"
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    # http.client opens its socket through this attribute with (host, port); everything else
    # (Host header, SNI, certificate check) keeps using `host`.
    connection._create_connection = functools.partial(_connect_to_any, addresses, deadline)  # type: ignore[attr-defined]
    return connection


def _connect_to_any(
    addresses: list[str],
    deadline: float,
    host_and_port: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """The first of `addresses` that accepts, as socket.create_connection tries a name's addresses,
    each attempt given only the time left before `deadline` (not `timeout` each)."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out connecting")
        try:
            return socket.create_connection((address, host_and_port[1]), left, source_address)
        except OSError as refused:
            error = refused
    raise error


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
