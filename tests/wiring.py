"""How tests give the API its dependencies: the whole app with `Depends(get_container)`
overridden (`app.dependency_overrides`), never by patching module globals. Tests that call a
Lambda handler instead go through the process's container (the `fresh_container` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stratus.container import Container


class WiredApi:
    """Every operation of the API, its routes served from `container`."""

    def __init__(self, container: Container) -> None:
        from stratus.api.app import create_full_app
        from stratus.container import get_container

        self.container = container
        self.app: FastAPI = create_full_app(container.settings)
        self.app.dependency_overrides[get_container] = lambda: self.container

    def use(self, container: Container) -> None:
        """Serve the next requests from `container`: another Lambda container of the same stack,
        or one built after the test changed the environment."""
        self.container = container

    def rebuild(self) -> Container:
        """A new container from the environment as it is now (its settings, fresh adapters and
        caches), serving the next requests."""
        self.use(container_from_environment())
        return self.container

    def client(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False)

    def unwire(self) -> None:
        self.app.dependency_overrides.clear()


def container_from_environment() -> Container:
    from stratus.container import Container
    from stratus.settings import Settings

    return Container(Settings.from_environment())
