"""API-key logic with an in-memory key store and an injected clock."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any, cast

import pytest

from stratus.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError
from stratus.ports.metadata import ApiKey, ApiKeyRepository, Permission
from stratus.services import api_keys
from stratus.services.api_keys import (
    AuthCache,
    Principal,
    authenticate,
    create_api_key,
    generate_api_key,
    hash_api_key,
    require_permission,
    revoke_api_key,
)


class InMemoryKeys:
    """An `ApiKeyRepository` in memory, counting lookups so cache hits are visible."""

    def __init__(self) -> None:
        self.by_hash: dict[str, ApiKey] = {}
        self.lookups = 0

    def put_api_key(self, key: ApiKey) -> None:
        self.by_hash[key.key_hash] = key

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        self.lookups += 1
        return self.by_hash.get(key_hash)

    def revoke_api_key(self, org_id: str, key_id: str) -> bool:
        for key_hash, key in self.by_hash.items():
            if key.org_id == org_id and key.key_id == key_id:
                self.by_hash[key_hash] = replace(key, revoked=True)
                return True
        return False

    def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return [key for key in self.by_hash.values() if key.org_id == org_id]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def keys() -> InMemoryKeys:
    return InMemoryKeys()


@pytest.fixture
def store(keys: InMemoryKeys) -> ApiKeyRepository:
    return keys


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# ---------------------------------------------------------------------------------------------
# Generation and hashing


def test_given_generated_keys_then_they_are_sk_plus_32_url_safe_chars_and_unique() -> None:
    generated = {generate_api_key() for _ in range(200)}

    assert len(generated) == 200
    assert all(re.fullmatch(r"sk_[A-Za-z0-9_-]{32}", key) for key in generated)


def test_given_a_key_when_hashed_then_sha256_hex() -> None:
    key = "sk_" + "a" * 32

    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert hash_api_key(key) != hash_api_key("sk_" + "b" * 32)


# ---------------------------------------------------------------------------------------------
# Creation and revocation


def test_given_valid_input_when_created_then_plaintext_returned_once_and_only_hash_stored(
    keys: InMemoryKeys, store: ApiKeyRepository
) -> None:
    plaintext, record = create_api_key(store, "org_1", "ci", ["write", "read", "write"])

    assert re.fullmatch(r"key_[a-z0-9]{16}", record.key_id)
    assert record.key_hash == hash_api_key(plaintext)
    assert record.permissions == ["read", "write"]
    assert record.org_id == "org_1" and record.name == "ci" and not record.revoked
    assert keys.by_hash == {record.key_hash: record}
    assert plaintext not in repr(record)


@pytest.mark.parametrize("permissions", [[], ["read", "superuser"], ["READ"]])
def test_given_bad_permissions_when_created_then_bad_request_naming_permissions(
    keys: InMemoryKeys, store: ApiKeyRepository, permissions: list[str]
) -> None:
    with pytest.raises(BadRequestError) as caught:
        create_api_key(store, "org_1", "ci", permissions)

    assert caught.value.details["field"] == "permissions"
    assert keys.by_hash == {}


@pytest.mark.parametrize(("org_id", "name"), [("", "ci"), ("org_1", "  ")])
def test_given_blank_org_or_name_when_created_then_bad_request(
    store: ApiKeyRepository, org_id: str, name: str
) -> None:
    with pytest.raises(BadRequestError):
        create_api_key(store, org_id, name, ["read"])


def test_given_an_unknown_key_id_when_revoked_then_not_found(store: ApiKeyRepository) -> None:
    create_api_key(store, "org_1", "ci", ["read"])

    with pytest.raises(NotFoundError):
        revoke_api_key(store, "org_1", "key_missing")


def test_given_another_orgs_key_id_when_revoked_then_not_found(store: ApiKeyRepository) -> None:
    _, record = create_api_key(store, "org_1", "ci", ["read"])

    with pytest.raises(NotFoundError):
        revoke_api_key(store, "org_2", record.key_id)


# ---------------------------------------------------------------------------------------------
# Authentication


def test_given_a_valid_key_when_authenticated_then_principal_of_its_org(store: ApiKeyRepository) -> None:
    plaintext, record = create_api_key(store, "org_1", "ci", ["read", "write"])

    principal = authenticate(store, plaintext, AuthCache(ttl_seconds=5))

    assert principal == Principal(
        org_id="org_1", key_id=record.key_id, permissions=frozenset({"read", "write"})
    )


@pytest.mark.parametrize("raw_key", [None, ""])
def test_given_no_key_when_authenticated_then_unauthorized(
    keys: InMemoryKeys, store: ApiKeyRepository, raw_key: str | None
) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(store, raw_key, None)

    assert caught.value.status == 401
    assert "missing" in caught.value.message
    assert keys.lookups == 0


@pytest.mark.parametrize(
    "raw_key",
    [
        "sk_short",
        "pk_" + "a" * 32,
        "sk_" + "a" * 31,
        "sk_" + "a" * 33,
        "sk_" + "a" * 31 + "!",
        "Bearer sk_" + "a" * 32,
        " sk_" + "a" * 32,
    ],
)
def test_given_a_malformed_key_when_authenticated_then_unauthorized_without_a_lookup(
    keys: InMemoryKeys, store: ApiKeyRepository, raw_key: str
) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(store, raw_key, None)

    assert "malformed" in caught.value.message
    assert raw_key not in caught.value.message  # never echo a key
    assert keys.lookups == 0


def test_given_an_unknown_key_when_authenticated_then_unauthorized(store: ApiKeyRepository) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        authenticate(store, generate_api_key(), None)

    assert caught.value.message == "unknown API key"


def test_given_a_revoked_key_when_authenticated_then_unauthorized(store: ApiKeyRepository) -> None:
    plaintext, record = create_api_key(store, "org_1", "ci", ["read"])
    revoke_api_key(store, "org_1", record.key_id)

    with pytest.raises(UnauthorizedError) as caught:
        authenticate(store, plaintext, AuthCache(ttl_seconds=5))

    assert "revoked" in caught.value.message


def test_given_a_store_returning_another_hash_when_authenticated_then_unauthorized(
    keys: InMemoryKeys, store: ApiKeyRepository
) -> None:
    plaintext, record = create_api_key(store, "org_1", "ci", ["read"])
    # A store bug (or a tampered item) must not authenticate a key whose hash differs.
    keys.by_hash[record.key_hash] = replace(record, key_hash="0" * 64)

    with pytest.raises(UnauthorizedError):
        authenticate(store, plaintext, None)


# ---------------------------------------------------------------------------------------------
# Cache


def test_given_a_cached_key_when_revoked_then_it_works_until_the_ttl_expires(
    keys: InMemoryKeys, store: ApiKeyRepository, clock: FakeClock
) -> None:
    cache = AuthCache(ttl_seconds=5, clock=clock)
    plaintext, record = create_api_key(store, "org_1", "ci", ["read"])
    authenticate(store, plaintext, cache)
    store.revoke_api_key("org_1", record.key_id)  # e.g. revoked from another container

    clock.advance(4.9)
    assert authenticate(store, plaintext, cache).key_id == record.key_id
    assert keys.lookups == 1

    clock.advance(0.2)
    with pytest.raises(UnauthorizedError):
        authenticate(store, plaintext, cache)
    assert keys.lookups == 2


def test_given_a_key_revoked_in_this_container_when_authenticated_then_rejected_at_once(
    store: ApiKeyRepository, clock: FakeClock
) -> None:
    cache = AuthCache(ttl_seconds=60, clock=clock)
    plaintext, record = create_api_key(store, "org_1", "ci", ["read"])
    authenticate(store, plaintext, cache)

    revoke_api_key(store, "org_1", record.key_id, cache)

    with pytest.raises(UnauthorizedError):
        authenticate(store, plaintext, cache)


def test_given_an_unknown_key_when_later_created_then_not_negatively_cached(
    keys: InMemoryKeys, store: ApiKeyRepository, clock: FakeClock
) -> None:
    cache = AuthCache(ttl_seconds=60, clock=clock)
    plaintext = generate_api_key()
    with pytest.raises(UnauthorizedError):
        authenticate(store, plaintext, cache)

    keys.put_api_key(
        ApiKey(
            key_id="key_x",
            key_hash=hash_api_key(plaintext),
            org_id="org_1",
            name="late",
            permissions=["read"],
            created_at="2026-01-01T00:00:00.000Z",
        )
    )

    assert authenticate(store, plaintext, cache).key_id == "key_x"


def test_given_a_zero_ttl_when_authenticating_then_every_call_reads_the_store(
    keys: InMemoryKeys, store: ApiKeyRepository
) -> None:
    cache = AuthCache(ttl_seconds=0)
    plaintext, _ = create_api_key(store, "org_1", "ci", ["read"])

    authenticate(store, plaintext, cache)
    authenticate(store, plaintext, cache)

    assert keys.lookups == 2
    assert len(cache) == 0


def test_given_a_full_cache_when_adding_then_the_oldest_entry_is_evicted(clock: FakeClock) -> None:
    cache = AuthCache(ttl_seconds=60, clock=clock, max_entries=2)
    principal = Principal("org_1", "key_1", frozenset({"read"}))

    cache.put("h1", principal)
    cache.put("h2", principal)
    cache.put("h3", principal)

    assert cache.get("h1") is None
    assert cache.get("h2") == principal and cache.get("h3") == principal


def test_given_a_container_when_its_cache_is_built_then_its_settings_decide_the_ttl() -> None:
    from stratus.container import Container
    from stratus.settings import Settings

    container = Container(Settings.from_environment({"STRATUS_AUTH_CACHE_SECONDS": "7.5"}))

    assert container.auth_cache.ttl_seconds == 7.5


# ---------------------------------------------------------------------------------------------
# Permissions


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [
        ({"read"}, "read", True),
        ({"read"}, "write", False),
        ({"read"}, "admin", False),
        ({"write"}, "read", True),
        ({"write"}, "write", True),
        ({"write"}, "admin", False),
        ({"admin"}, "read", True),
        ({"admin"}, "write", True),
        ({"admin"}, "admin", True),
        (set(), "read", False),
    ],
)
def test_given_a_permission_set_when_checked_then_admin_includes_write_includes_read(
    granted: set[str], needed: Permission, allowed: bool
) -> None:
    principal = Principal("org_1", "key_1", frozenset(cast(Any, granted)))

    if allowed:
        require_permission(principal, needed)
    else:
        with pytest.raises(ForbiddenError) as caught:
            require_permission(principal, needed)
        assert caught.value.status == 403
        assert caught.value.details["required_permission"] == needed


def test_given_a_principal_then_it_is_immutable() -> None:
    principal = Principal("org_1", "key_1", frozenset({"read"}))

    with pytest.raises(AttributeError):
        principal.org_id = "org_2"  # type: ignore[misc]


def test_all_permissions_are_the_port_literal() -> None:
    assert api_keys.ALL_PERMISSIONS == ("read", "write", "admin")
