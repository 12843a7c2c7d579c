"""API keys: creation, revocation, authentication and permission checks (api.md, Auth).

A key is `sk_` + 32 url-safe characters. It is shown once; the store only ever sees its SHA-256
hash. Nothing in this module logs a key, a hash or a request header.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import get_args

from stratus.clock import iso_now
from stratus.domain.identifiers import check_identifier
from stratus.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from stratus.ids import new_id
from stratus.ports.metadata import ApiKey, ApiKeyRepository, Permission

API_KEY_PREFIX = "sk_"
API_KEY_RANDOM_LENGTH = 32
KEY_ID_PREFIX = "key_"
_API_KEY_PATTERN = re.compile(rf"^{API_KEY_PREFIX}[A-Za-z0-9_-]{{{API_KEY_RANDOM_LENGTH}}}$")

ALL_PERMISSIONS: tuple[Permission, ...] = get_args(Permission)
# Hierarchical: a key holding a level holds every level below it (admin ⊃ write ⊃ read).
_PERMISSION_LEVEL: dict[Permission, int] = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the organization and key behind a verified API key."""

    org_id: str
    key_id: str
    permissions: frozenset[Permission]

    def has(self, needed: Permission) -> bool:
        granted = max((_PERMISSION_LEVEL[p] for p in self.permissions), default=0)
        return granted >= _PERMISSION_LEVEL[needed]


class AuthCache:
    """Verified keys, trusted for `ttl_seconds` (settings `auth_cache_seconds`: the container
    holds one) so a warm Lambda does not read DynamoDB on every request. Keyed by the key's hash,
    never by the key. A revoked key keeps working for at most `ttl_seconds` in containers that
    cached it; that is the price of the cache and why the default TTL is seconds, not minutes.
    Unknown keys are not cached, so a freshly created key works at once."""

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}
        # FastAPI runs sync dependencies in a thread pool.
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key_hash)
            if entry is None:
                return None
            expires_at, principal = entry
            if self._clock() >= expires_at:
                del self._entries[key_hash]
                return None
            return principal

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if key_hash not in self._entries and len(self._entries) >= self._max_entries:
                # Dicts keep insertion order: drop the oldest entry.
                del self._entries[next(iter(self._entries))]
            self._entries[key_hash] = (self._clock() + self.ttl_seconds, principal)

    def forget_key(self, key_id: str) -> None:
        """Drop a key from this container's cache (used right after revoking it here)."""
        with self._lock:
            for key_hash in [h for h, (_, p) in self._entries.items() if p.key_id == key_id]:
                del self._entries[key_hash]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def generate_api_key() -> str:
    # token_urlsafe(32) gives 43 characters of 256 random bits; 32 of them keep 192 bits.
    return API_KEY_PREFIX + secrets.token_urlsafe(32)[:API_KEY_RANDOM_LENGTH]


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def is_well_formed_api_key(key: str) -> bool:
    return _API_KEY_PATTERN.fullmatch(key) is not None


def normalize_permissions(permissions: Iterable[str]) -> list[Permission]:
    """Validated, deduplicated, in canonical order. `BadRequestError` names what is accepted."""
    requested = list(permissions)
    unknown = sorted({p for p in requested if p not in _PERMISSION_LEVEL})
    if unknown:
        raise BadRequestError(
            f"permissions: unknown value(s) {', '.join(unknown)}; accepted: {', '.join(ALL_PERMISSIONS)}",
            {"field": "permissions", "accepted": list(ALL_PERMISSIONS)},
        )
    if not requested:
        raise BadRequestError(
            f"permissions must not be empty; accepted: {', '.join(ALL_PERMISSIONS)}",
            {"field": "permissions", "accepted": list(ALL_PERMISSIONS)},
        )
    return [p for p in ALL_PERMISSIONS if p in requested]


def _require_text(field: str, value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise BadRequestError(f"{field} must not be empty", {"field": field})
    return cleaned


def create_api_key(
    store: ApiKeyRepository, org_id: str, name: str, permissions: Iterable[str]
) -> tuple[str, ApiKey]:
    """Store a new key and return `(plaintext key, stored record)`. The plaintext exists only
    in this return value: show it once, never persist or log it."""
    plaintext = generate_api_key()
    record = ApiKey(
        key_id=new_id(KEY_ID_PREFIX),
        key_hash=hash_api_key(plaintext),
        org_id=check_identifier(_require_text("org_id", org_id), "org_id"),
        name=_require_text("name", name),
        permissions=normalize_permissions(permissions),
        created_at=iso_now(),
    )
    store.put_api_key(record)
    return plaintext, record


def revoke_api_key(store: ApiKeyRepository, org_id: str, key_id: str, cache: AuthCache | None = None) -> None:
    """`NotFoundError` if the organization has no such key. Revoking twice is fine."""
    if not store.revoke_api_key(org_id, key_id):
        raise NotFoundError.of("api key", key_id)
    if cache is not None:
        cache.forget_key(key_id)


def _unauthorized(message: str) -> UnauthorizedError:
    # One message shape for every failure; the reason helps the caller without revealing keys.
    return UnauthorizedError(message, {"header": "Authorization", "expected": "Bearer sk_..."})


def authenticate(store: ApiKeyRepository, raw_key: str | None, cache: AuthCache | None) -> Principal:
    """The principal behind `raw_key` (the bare key, without `Bearer `), or `UnauthorizedError`."""
    if not raw_key:
        raise _unauthorized("missing API key; send 'Authorization: Bearer <api key>'")
    if not is_well_formed_api_key(raw_key):
        raise _unauthorized(
            f"malformed API key; keys look like '{API_KEY_PREFIX}' followed by "
            f"{API_KEY_RANDOM_LENGTH} url-safe characters"
        )
    key_hash = hash_api_key(raw_key)
    cached = cache.get(key_hash) if cache is not None else None
    if cached is not None:
        return cached
    record = store.get_api_key(key_hash)
    # The lookup is by hash already; the constant-time compare guards against a store that ever
    # returns a near match (e.g. a prefix scan) from turning into a timing oracle.
    if record is None or not hmac.compare_digest(record.key_hash, key_hash):
        raise _unauthorized("unknown API key")
    if record.revoked:
        raise _unauthorized("API key has been revoked")
    principal = Principal(
        org_id=record.org_id, key_id=record.key_id, permissions=frozenset(record.permissions)
    )
    if cache is not None:
        cache.put(key_hash, principal)
    return principal


def require_permission(principal: Principal, needed: Permission) -> None:
    if not principal.has(needed):
        granted = [p for p in ALL_PERMISSIONS if p in principal.permissions]
        raise ForbiddenError(
            f"this API key lacks the '{needed}' permission (granted: {', '.join(granted) or 'none'})",
            {"required_permission": needed, "granted_permissions": granted},
        )
