"""AWS Signature Version 4 for one JSON POST: what `point_reads` needs, nothing more.

botocore signs the same way (`botocore.auth.SigV4Auth`); `tests/unit/test_aws_sigv4.py` checks
this against it header for header. It exists because importing boto3 and building a client costs
more than a whole bare FastAPI cold start (tests/perf/cold_start.py), and an authenticated
request's first DynamoDB read should not pay for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"Credentials(access_key_id={self.access_key_id[:4]}...)"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_access_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _canonical_path(path: str) -> str:
    # Non-S3 services encode the (already URI-encoded) path once more, keeping the slashes.
    return quote(path or "/", safe="/~")


def signed_headers(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    credentials: Credentials,
    region: str,
    service: str,
    now: dt.datetime,
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token (with a session token) and
    Authorization, for a POST of `body` to `url` (no query string) at `now` (UTC)."""
    parts = urlsplit(url)
    if parts.query:
        raise ValueError("signed_headers signs POSTs without a query string")
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    host = parts.netloc
    if (parts.scheme == "https" and host.endswith(":443")) or (
        parts.scheme == "http" and host.endswith(":80")
    ):
        host = host.rsplit(":", 1)[0]
    result = {**headers, "Host": host, "X-Amz-Date": amz_date}
    if credentials.session_token:
        result["X-Amz-Security-Token"] = credentials.session_token
    canonical = {name.lower(): " ".join(value.split()) for name, value in result.items()}
    names = sorted(canonical)
    canonical_request = "\n".join(
        [
            "POST",
            _canonical_path(parts.path),
            "",  # no query string
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    signature = hmac.new(
        signing_key(credentials.secret_access_key, date, region, service),
        string_to_sign.encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()
    result["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return result
