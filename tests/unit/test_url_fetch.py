"""`fetch_url` against real TLS servers on loopback: the addresses it checks are the addresses it
connects to (a DNS answer that changes after the check, rebinding, cannot redirect it), the
certificate is still verified against the URL's name, and whatever goes wrong is a 400 naming the
field. The resolver and the "is this address public" rule are replaced so that loopback addresses
can play the public and the private host; sockets, TLS and HTTP are real."""

from __future__ import annotations

import datetime
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stratus import url_fetch
from stratus.errors import BadRequestError
from stratus.settings import Settings

NAME = "images.example"
CHECKED = "127.0.0.1"  # plays the public address the name resolves to when it is checked
REBOUND = "127.0.0.2"  # plays the private address a rebinding DNS answer gives afterwards
STRICT = Settings(allow_private_urls=False, url_fetch_timeout_seconds=5.0)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for NAME (it is its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _Server:
    """An https server on one loopback address that says which address it is."""

    def __init__(self, address: str, port: int, context: ssl.SSLContext) -> None:
        owner = self
        self.hosts: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hosts.append(self.headers["Host"])
                status, body = (200, address.encode()) if self.path == "/a.png" else (404, b"no")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer((address, port), Handler)
        self.http.socket = context.wrap_socket(self.http.socket, server_side=True)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[_Server, _Server]]:
    cert_path, key_path = _certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    checked = _Server(CHECKED, 0, server_context)
    rebound = _Server(REBOUND, checked.port, server_context)
    # The fetcher trusts exactly this certificate, as a deployed one trusts the public CAs.
    monkeypatch.setattr(url_fetch, "_tls_context", lambda: ssl.create_default_context(cafile=str(cert_path)))
    monkeypatch.setattr(url_fetch, "_is_public", lambda address: address == CHECKED)
    yield checked, rebound
    checked.close()
    rebound.close()


def _resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """getaddrinfo answering each name with its next list of addresses (the last one repeats)."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        replies = answers[host]
        addresses = replies.pop(0) if len(replies) > 1 else replies[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def _refusal(call: Callable[[], bytes]) -> str:
    with pytest.raises(BadRequestError) as raised:
        call()
    assert raised.value.details == {"field": "queries[0].url"}
    return raised.value.message


def test_a_dns_answer_that_changes_after_the_check_does_not_move_the_connection(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, rebound = servers
    asked = _resolver(monkeypatch, {NAME: [[CHECKED], [REBOUND]]})
    url = f"https://{NAME}:{checked.port}/a.png"
    assert url_fetch.fetch_url(url, "queries[0].url", STRICT) == CHECKED.encode()
    assert asked == [NAME]  # resolved once, for the check
    assert checked.hosts == [f"{NAME}:{checked.port}"] and rebound.hosts == []


def test_the_rebound_server_is_reachable_so_the_test_above_can_fail(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: with the private address "public" too, a name that resolves to it is fetched.
    _checked, rebound = servers
    monkeypatch.setattr(url_fetch, "_is_public", lambda address: True)
    _resolver(monkeypatch, {NAME: [[REBOUND]]})
    assert url_fetch.fetch_url(f"https://{NAME}:{rebound.port}/a.png", "f", STRICT) == REBOUND.encode()


def test_a_name_with_any_private_address_is_refused_before_connecting(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, rebound = servers
    _resolver(monkeypatch, {NAME: [[CHECKED, REBOUND]]})
    message = _refusal(
        lambda: url_fetch.fetch_url(f"https://{NAME}:{checked.port}/a.png", "queries[0].url", STRICT)
    )
    assert "private or local address" in message
    assert checked.hosts == [] and rebound.hosts == []


def test_the_next_checked_address_is_tried_when_the_first_refuses(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, _rebound = servers
    closed = "127.0.0.3"  # nothing listens there
    monkeypatch.setattr(url_fetch, "_is_public", lambda address: address in {closed, CHECKED})
    _resolver(monkeypatch, {NAME: [[closed, CHECKED]]})
    assert url_fetch.fetch_url(f"https://{NAME}:{checked.port}/a.png", "f", STRICT) == CHECKED.encode()


def test_the_certificate_must_name_the_urls_host(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, _rebound = servers
    _resolver(monkeypatch, {"other.example": [[CHECKED]]})
    url = f"https://other.example:{checked.port}/a.png"
    message = _refusal(lambda: url_fetch.fetch_url(url, "queries[0].url", STRICT))
    assert "could not be fetched" in message and "CERTIFICATE_VERIFY_FAILED" in message


def test_an_answer_other_than_200_is_a_400_with_its_status(
    servers: tuple[_Server, _Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked, _rebound = servers
    _resolver(monkeypatch, {NAME: [[CHECKED]]})
    message = _refusal(
        lambda: url_fetch.fetch_url(f"https://{NAME}:{checked.port}/b.png", "queries[0].url", STRICT)
    )
    assert "it answered 404" in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://images.example:99999/a.png", "port"),
        ("https:///a.png", "no host"),
        ("ftp://images.example/a.png", "only https"),
        ("https://[fe80::1]/a.png", "private or local address"),
        ("https://[::ffff:10.0.0.1]/a.png", "private or local address"),
        # IPv6 addresses that carry an IPv4 one: NAT64 and 6to4 to 10.0.0.1, IPv4-compatible loopback.
        ("https://[64:ff9b::a00:1]/a.png", "private or local address"),
        ("https://[2002:a00:1::1]/a.png", "private or local address"),
        ("https://[::127.0.0.1]/a.png", "private or local address"),
    ],
)
def test_unusable_urls_are_400s_naming_the_field(url: str, words: str) -> None:
    message = _refusal(lambda: url_fetch.fetch_url(url, "queries[0].url", STRICT))
    assert words in message


def test_the_real_rule_refuses_loopback_private_and_link_local_addresses() -> None:
    for address in ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1", "100.64.0.1"]:
        assert not url_fetch._is_public(address), address
    assert url_fetch._is_public("93.184.215.14") and url_fetch._is_public("2606:4700::1")


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1: Python counts the prefix as global
        "64:ff9b::5db8:d70e",  # ... even of a public IPv4 address: a gateway decides where it goes
        "64:ff9b:1::a00:1",  # local-use NAT64 (RFC 8215)
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254, the metadata service
        "2002:5db8:d70e::1",  # 6to4 of a public address
        "::a9fe:a9fe",  # IPv4-compatible ::169.254.169.254
        "::5db8:d70e",  # IPv4-compatible ::93.184.215.14
        "::ffff:93.184.215.14",  # IPv4-mapped
        "::ffff:0:a00:1",  # IPv4-translated (RFC 2765)
    ],
)
def test_ipv6_addresses_that_carry_an_ipv4_address_are_not_public(address: str) -> None:
    assert not url_fetch._is_public(address)


class _Drip(http.server.BaseHTTPRequestHandler):
    """Answers 200 with a 20-byte body, and drips 20 bytes one every 0.1 s (2 s in all, never
    0.1 s silent): in the body for /body, in a header for /headers."""

    def do_GET(self) -> None:
        if self.path == "/headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._drip()
            self.wfile.write(b"\r\nContent-Length: 20\r\n\r\n" + b"x" * 20)
            return
        self.send_response(200)
        self.send_header("Content-Length", "20")
        self.end_headers()
        self._drip()

    def _drip(self) -> None:
        for _ in range(20):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.1)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(params=["body", "headers"])
def drip_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{request.param}"
    server.shutdown()
    server.server_close()


def test_the_timeout_bounds_the_whole_fetch_not_each_wait(drip_url: str) -> None:
    # The control: with time enough, the dripped body arrives whole (no single wait is long).
    patient = Settings(allow_private_urls=True, url_fetch_timeout_seconds=5.0)
    assert url_fetch.fetch_url(drip_url, "queries[0].url", patient) == b"x" * 20

    hurried = Settings(allow_private_urls=True, url_fetch_timeout_seconds=0.5)
    started = time.monotonic()
    message = _refusal(lambda: url_fetch.fetch_url(drip_url, "queries[0].url", hurried))
    elapsed = time.monotonic() - started
    assert "took longer than 0.5 s in all" in message or "timed out" in message, message
    assert elapsed < 1.5, f"refused after {elapsed:.2f} s; the drip takes 2 s"


# ---------------------------------------------------------------------------------------------
# One deadline for resolution, connection and exchange.

HURRIED = Settings(allow_private_urls=False, url_fetch_timeout_seconds=0.5)


def test_a_resolver_that_never_answers_is_given_the_timeout_and_no_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answered = threading.Event()

    def stuck(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        answered.wait(5.0)  # a resolver whose servers do not answer: getaddrinfo has no timeout
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    started = time.monotonic()
    message = _refusal(lambda: url_fetch.fetch_url(f"https://{NAME}/a.png", "queries[0].url", HURRIED))
    elapsed = time.monotonic() - started
    answered.set()
    assert "did not resolve in time" in message
    assert elapsed < 2.0, f"refused after {elapsed:.2f} s; the timeout is 0.5 s"


def test_many_addresses_share_one_deadline_to_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    # Six addresses that never accept (a blackholed host): each attempt waits out its timeout.
    addresses = [f"127.0.0.{n}" for n in range(10, 16)]
    monkeypatch.setattr(url_fetch, "_is_public", lambda address: True)
    _resolver(monkeypatch, {NAME: [addresses]})
    waits: list[float] = []

    def blackholed(address: tuple[str, int], timeout: float | None = None, *args: Any) -> socket.socket:
        assert timeout is not None
        waits.append(timeout)
        time.sleep(min(timeout, 1.0))
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", blackholed)
    started = time.monotonic()
    _refusal(lambda: url_fetch.fetch_url(f"https://{NAME}/a.png", "queries[0].url", HURRIED))
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"refused after {elapsed:.2f} s; the timeout is 0.5 s for all {len(waits)} attempts"
    assert sum(waits) <= 0.5 + 0.05 * len(waits), waits  # each had only the time left
