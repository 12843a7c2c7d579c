"""The auth dependency: `Authorization: Bearer sk_...`, checked against hashed keys."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from stratus.container import Container, get_container
from stratus.errors import UnauthorizedError
from stratus.ports.metadata import Permission
from stratus.services import api_keys

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_...`")


def require(permission: Permission) -> Callable[..., api_keys.Principal]:
    """A dependency that authenticates the caller and checks `permission` (admin ⊃ write ⊃ read)."""

    def dependency(
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        container: Container = Depends(get_container),
    ) -> api_keys.Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthorizedError(
                "missing API key; send 'Authorization: Bearer <api key>'", {"header": "Authorization"}
            )
        principal = api_keys.authenticate(container.metadata, credentials.credentials, container.auth_cache)
        api_keys.require_permission(principal, permission)
        return principal

    return dependency
