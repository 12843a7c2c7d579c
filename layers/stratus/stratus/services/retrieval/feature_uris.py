"""What a search's `feature_uri` may name in a namespace, and the vector index it names."""

from __future__ import annotations

from stratus.errors import BadRequestError
from stratus.models.namespaces import Namespace
from stratus.services.spaces import space_of

MIXPEEK_URI = "mixpeek://"


def feature_uris(namespace: Namespace) -> list[str]:
    """What `feature_uri` may name in this namespace: its extractors' outputs and its indexes."""
    uris = [
        f"{MIXPEEK_URI}{extractor.feature_extractor_name}@{extractor.version}/embedding"
        for extractor in namespace.feature_extractors
    ]
    return [*uris, *namespace.index_names()]


def resolve_feature_uri(namespace: Namespace, uri: str, where: str) -> str:
    """The vector index `uri` names: an index name, or `mixpeek://<extractor>@<version>/<output>`
    of one of the namespace's feature extractors (its index `<extractor>_<version>_<output>`)."""
    if uri.startswith(MIXPEEK_URI):
        extractor, _, rest = uri.removeprefix(MIXPEEK_URI).partition("@")
        version, _, output = rest.partition("/")
        version = version if version.startswith("v") else f"v{version}"
        index = f"{extractor}_{version}_{output or 'embedding'}"
        if space_of(namespace, index) is not None:
            return index
    elif space_of(namespace, uri) is not None:
        return uri
    available = feature_uris(namespace)
    raise BadRequestError(
        f"{where}: '{uri}' names no vector index of namespace '{namespace.namespace_id}'; accepted: "
        f"{', '.join(available) or 'none (the namespace has no vector index yet)'}",
        {"field": where, "feature_uri": uri, "available_feature_uris": available},
    )
