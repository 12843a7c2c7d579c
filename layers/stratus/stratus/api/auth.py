"""The auth dependency: `Authorization: Bearer sk_...`, checked against hashed keys, then the
request counted against its organization's rate limit (`stratus.services.rate_limits`)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from stratus.api.operations import rate_category
from stratus.container import Container, get_container
from stratus.errors import UnauthorizedError
from stratus.ports.metadata import Permission
from stratus.services import api_keys

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer sk_...`")


def require(permission: Permission) -> Callable[..., api_keys.Principal]:
    """A dependency that authenticates the caller, checks `permission` (admin ⊃ write ⊃ read),
    then counts the request against the organization's limit for the operation's category (429
    past it). A request refused with 401 or 403 is not counted: it cost no more than a cached
    hash lookup."""

    def dependency(
        request: Request,
        response: Response,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
        container: Container = Depends(get_container),
    ) -> api_keys.Principal:
        principal = authorize(container, credentials, permission)
        count_request(request, response, container, principal.org_id)
        return principal

    return dependency


def bearer_credentials(request: Request) -> HTTPAuthorizationCredentials | None:
    """What `_bearer` (FastAPI's `HTTPBearer(auto_error=False)`) answers, without awaiting it:
    for code that already runs in a worker thread (the upsert route, stratus.api.upsert_route)."""
    authorization = request.headers.get("Authorization")
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def authorize(
    container: Container, credentials: HTTPAuthorizationCredentials | None, permission: Permission
) -> api_keys.Principal:
    """The caller behind `credentials`, holding `permission`: 401 or 403 otherwise (not counted)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError(
            "missing API key; send 'Authorization: Bearer <api key>'", {"header": "Authorization"}
        )
    principal = api_keys.authenticate(container.metadata, credentials.credentials, container.auth_cache)
    api_keys.require_permission(principal, permission)
    return principal


def operation_of(request: Request) -> str:
    """The operation serving `request`: the name of its route's router module
    (`stratus.api.routers.<operation>`, one per operation)."""
    endpoint = request.scope.get("endpoint")
    return str(getattr(endpoint, "__module__", "")).rpartition(".")[2]


def count_request(request: Request, response: Response, container: Container, org_id: str) -> None:
    """Once per request, however many dependencies authenticate it."""
    if getattr(request.state, "rate_counted", False):
        return
    request.state.rate_counted = True
    admission = container.rate_limiter.admit(org_id, rate_category(operation_of(request)))
    if admission is not None:
        response.headers.update(admission.headers())
