"""The `X-Namespace` header of the managed-content routes (api.md: id or name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Depends, Header

from stratus.api.auth import require
from stratus.container import Container, get_container
from stratus.errors import BadRequestError
from stratus.models.namespaces import Namespace
from stratus.ports.metadata import Permission
from stratus.services.api_keys import Principal
from stratus.services.spaces import resolve_namespace

HEADER = "X-Namespace"


@dataclass(frozen=True)
class NamespaceScope:
    """Who is calling, and the namespace (of their organization) the header named."""

    principal: Principal
    namespace: Namespace

    @property
    def org_id(self) -> str:
        return self.principal.org_id


def namespace_scope(permission: Permission, *, cached: bool = False) -> Callable[..., NamespaceScope]:
    """A dependency: authenticate (401/403 first, before anything about the namespace leaks),
    then resolve the header; missing → 400, unknown or another organization's → 404. `cached`
    (the query routes) accepts a copy of the namespace read within `namespace_cache_seconds`,
    as `POST /v1/search` does: the service re-reads it before refusing a request."""

    def dependency(
        principal: Principal = Depends(require(permission)),
        x_namespace: str | None = Header(
            default=None,
            alias=HEADER,
            max_length=1024,
            description="The namespace id or name these resources belong to",
        ),
        container: Container = Depends(get_container),
    ) -> NamespaceScope:
        if x_namespace is None or not x_namespace.strip():
            raise BadRequestError(
                f"missing {HEADER} header; send '{HEADER}: <namespace id or name>'", {"header": HEADER}
            )
        max_age = container.settings.namespace_cache_seconds if cached else 0.0
        namespace = resolve_namespace(
            container.metadata, principal.org_id, x_namespace.strip(), max_age, field=HEADER
        )
        return NamespaceScope(principal, namespace)

    return dependency
