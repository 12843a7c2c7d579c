"""The composition root: one container per process, built from the environment on first use,
its parts built on first use and kept; a reset drops it and everything it held."""

from __future__ import annotations

import pytest

from stratus.container import Container, get_container, reset_container
from stratus.errors import BadRequestError
from stratus.settings import Settings


def test_the_process_container_is_built_once_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    monkeypatch.setenv("STRATUS_TABLE_NAME", "from-env")

    container = get_container()

    assert container.settings.table_name == "from-env"
    assert get_container() is container


def test_a_reset_reads_the_environment_again_and_drops_the_caches(
    monkeypatch: pytest.MonkeyPatch, fresh_container: None
) -> None:
    before = get_container()
    auth_cache, query_cache = before.auth_cache, before.query_cache
    monkeypatch.setenv("STRATUS_TABLE_NAME", "changed")

    reset_container()
    after = get_container()

    assert after is not before and after.settings.table_name == "changed"
    assert after.auth_cache is not auth_cache and after.query_cache is not query_cache


def test_parts_are_built_on_first_use_and_kept() -> None:
    container = Container(Settings.from_environment({}))

    assert container.auth_cache is container.auth_cache
    assert container.query_cache is container.query_cache
    assert container.embedders is container.embedders
    assert container.fetcher is container.fetcher


def test_the_fetcher_follows_the_settings() -> None:
    refusing = Container(Settings.from_environment({})).fetcher

    with pytest.raises(BadRequestError) as refused:
        refusing.fetch("http://127.0.0.1:9/a.png", "queries[0].url")

    assert refused.value.details == {"field": "queries[0].url"} and "only https" in refused.value.message
