"""The seed's full workflow (namespace-promotion.txt): start standalone, load and validate, promote,
then use managed features - over real HTTP against the local stack in a subprocess.

Given a loopback server speaking the OpenAI embeddings API (its vectors are `expected_vector(text)`),
when a caller promotes `legal-docs` with the seed's mapping to `openai_text_3_small`,
then raw-text queries are embedded by that server (once per distinct text, cached on success),
an outage is a retryable 503 that caches nothing, and the in-process `minilm_l6_v2` path works with
no key at all.

One stack per scenario group: the OpenAI path, the outage path, and a default-env stack shared by
the local-model and standalone groups."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LocalStack, start_stack
from tests.loopback_openai import LoopbackOpenAI, RecordedRequest, expected_vector
from tests.seed_bodies import seed_body, seed_text

pytestmark = pytest.mark.e2e

SEED_DIMENSION = 1536
IMAGE_DIMENSION = 512
OPENAI_MODEL = "text-embedding-3-small"
# The first MiniLM embedding loads torch and the model (several seconds, more on a busy machine).
MODEL_TIMEOUT_SECONDS = 180.0

# Exactly the seed's body ("Start standalone"), sent as raw text.
CREATE_BODY = seed_text("promotion-create-standalone.json")
PROMOTE_BODY = seed_body("promotion-promote.json")
# The seed's documented response, for the namespace promoted here.
SEED_PROMOTION_RESPONSE = {**seed_body("promotion-response.json"), "namespace_id": "legal-docs"}

LEGAL_TEXTS = {
    "nda-2024": "Mutual non-disclosure agreement between Acme Corp and Globex, effective 2024",
    "msa-2023": "Master services agreement covering consulting work, fees and payment terms",
    "memo-q1": "First quarter litigation memo on the pending patent infringement dispute",
    "brief-7": "Appellate brief arguing that the lower court misread the indemnification clause",
}
LEGAL_PAYLOADS = {
    "nda-2024": {"category": "contract", "title": "Mutual NDA", "year": 2024},
    "msa-2023": {"category": "contract", "title": "Master services agreement", "year": 2023},
    "memo-q1": {"category": "memo", "title": "Q1 litigation memo", "year": 2024},
    "brief-7": {"category": "brief", "title": "Appellate brief", "year": 2022},
}
RENEWAL_ID = "nda-2025-renewal"
RENEWAL_TEXT = "Renewal of the mutual NDA with Globex for another two years, signed in 2025"
PHOTO_ID = "exhibit-a-photo"

LOCAL_TEXTS = {
    "cat": "A cat curled up asleep on a soft living-room carpet",
    "finance": "Quarterly earnings report shows rising revenue and lower operating costs",
    "football": "The home team won the football match 3-1 thanks to a late goal",
}


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def running_stack(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> Iterator[LocalStack]:
    """A stack of its own (port 0: the stack picks a free one), stopped cleanly at teardown."""
    stack = start_stack(tmp_path_factory.mktemp(name), port=0, env=env)
    try:
        yield stack
    finally:
        stack.assert_stops_cleanly()


def openai_env(server: LoopbackOpenAI, **extra: str) -> dict[str, str]:
    return {"STRATUS_OPENAI_API_KEY": server.api_key, "STRATUS_OPENAI_BASE_URL": server.base_url, **extra}


def assert_ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["error"]["type"] == error_type, body
    assert body["error"]["message"]
    return body


def unit_vector(seed: int, dimension: int) -> list[float]:
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def text_query(text: str, index: str = "text_embedding", top_k: int = 5) -> dict[str, Any]:
    return {"vector_name": index, "text": text, "top_k": top_k}


def vector_query(vector: list[float], index: str = "text_embedding", top_k: int = 5) -> dict[str, Any]:
    return {"vector_name": index, "vector": vector, "top_k": top_k}


def search(
    client: httpx.Client, namespace: str, *queries: dict[str, Any], timeout: float | None = None
) -> httpx.Response:
    body = {"namespace_id": namespace, "queries": list(queries)}
    if timeout is None:
        return client.post("/v1/search", json=body)
    return client.post("/v1/search", json=body, timeout=timeout)


def result_ids(body: dict[str, Any]) -> list[str]:
    return [result["document_id"] for result in body["results"]]


def requests_since(server: LoopbackOpenAI, mark: int) -> list[RecordedRequest]:
    return server.requests[mark:]


def embedded_texts(requests: list[RecordedRequest]) -> list[str]:
    return [text for request in requests for text in request.inputs]


def create_seed_namespace(client: httpx.Client) -> None:
    assert_ok(
        client.post(
            "/v1/namespaces/standalone", content=CREATE_BODY, headers={"Content-Type": "application/json"}
        )
    )


def upsert_legal_documents(client: httpx.Client) -> None:
    """The seed's "Load": precomputed vectors the loopback model would produce for each text."""
    body = assert_ok(
        client.post(
            "/v1/namespaces/legal-docs/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": document_id,
                        "vectors": {"text_embedding": expected_vector(text, SEED_DIMENSION)},
                        "payload": {**LEGAL_PAYLOADS[document_id], "text": text},
                    }
                    for document_id, text in LEGAL_TEXTS.items()
                ]
            },
        )
    )
    assert body["inserted"] == len(LEGAL_TEXTS)


# =================================================================================================
# a. The OpenAI path: the seed verbatim


@pytest.fixture(scope="class")
def seed_openai() -> Iterator[LoopbackOpenAI]:
    with LoopbackOpenAI(api_key="sk-loopback-e2e-seed-workflow") as server:
        yield server


@pytest.fixture(scope="class")
def seed_stack(tmp_path_factory: pytest.TempPathFactory, seed_openai: LoopbackOpenAI) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "promotion-openai", openai_env(seed_openai)) as stack:
        yield stack


@pytest.fixture(scope="class")
def seed_client(seed_stack: LocalStack) -> Iterator[httpx.Client]:
    with seed_stack.client() as client:
        yield client


@pytest.fixture(scope="class")
def legal_docs(seed_client: httpx.Client) -> httpx.Client:
    """Start standalone + Load: `legal-docs` with the seed's body and four documents."""
    create_seed_namespace(seed_client)
    upsert_legal_documents(seed_client)
    return seed_client


@pytest.fixture(scope="class")
def promotion(legal_docs: httpx.Client) -> httpx.Response:
    """Promote: the answer, kept for the test that checks it."""
    return legal_docs.post("/v1/namespaces/legal-docs/promote", json=PROMOTE_BODY)


@pytest.fixture(scope="class")
def promoted(legal_docs: httpx.Client, promotion: httpx.Response) -> httpx.Client:
    assert_ok(promotion)
    return legal_docs


@pytest.fixture(scope="class")
def renewal_upserted(promoted: httpx.Client, seed_openai: LoopbackOpenAI) -> list[RecordedRequest]:
    """After promotion: a document upserted by raw text (embedded server-side); the embedding
    requests it caused."""
    mark = len(seed_openai.requests)
    body = assert_ok(
        promoted.post(
            "/v1/namespaces/legal-docs/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": RENEWAL_ID,
                        "vectors": {"text_embedding": {"text": RENEWAL_TEXT}},
                        "payload": {"category": "contract", "title": "NDA renewal", "year": 2025},
                    }
                ]
            },
        )
    )
    assert body == {"inserted": 1, "document_ids": [RENEWAL_ID]}
    return requests_since(seed_openai, mark)


@pytest.fixture(scope="class")
def photo_upserted(promoted: httpx.Client) -> list[float]:
    """After promotion: 512 floats straight into the index that promotion added."""
    vector = unit_vector(512, IMAGE_DIMENSION)
    body = assert_ok(
        promoted.post(
            "/v1/namespaces/legal-docs/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": PHOTO_ID,
                        "vectors": {"image_embedding": vector},
                        "payload": {"category": "exhibit", "title": "Photo of exhibit A"},
                    }
                ]
            },
        )
    )
    assert body == {"inserted": 1, "document_ids": [PHOTO_ID]}
    return vector


class TestSeedWorkflowWithOpenAI:
    def test_given_standalone_legal_docs_when_searching_by_vector_then_each_document_is_its_own_best_match(
        self, legal_docs: httpx.Client
    ) -> None:
        for document_id, text in LEGAL_TEXTS.items():
            body = assert_ok(
                search(legal_docs, "legal-docs", vector_query(expected_vector(text, SEED_DIMENSION)))
            )
            assert result_ids(body)[0] == document_id
            assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
            assert all(abs(result["score"]) < 0.2 for result in body["results"][1:]), body["results"]

    def test_when_promoting_with_the_seed_body_then_the_answer_is_exactly_the_documented_one(
        self, promotion: httpx.Response
    ) -> None:
        assert assert_ok(promotion) == SEED_PROMOTION_RESPONSE

    def test_when_searching_by_a_documents_text_then_it_comes_first_with_score_one(
        self, promoted: httpx.Client, seed_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["nda-2024"]
        mark = len(seed_openai.requests)

        body = assert_ok(search(promoted, "legal-docs", text_query(text)))

        assert result_ids(body)[0] == "nda-2024"
        top = body["results"][0]
        assert top["score"] == pytest.approx(1.0, abs=1e-3)
        assert top["payload"]["title"] == "Mutual NDA"
        assert all(result["score"] < 0.2 for result in body["results"][1:]), body["results"]
        # The loopback server got one request, as the SDK sends it by default.
        [request] = requests_since(seed_openai, mark)
        assert request.path == "/v1/embeddings"
        assert request.model == OPENAI_MODEL
        assert request.inputs == [text]
        assert request.encoding_format == "base64"  # the SDK's default, decoded by the SDK
        assert request.authorization == f"Bearer {seed_openai.api_key}"

    def test_when_one_search_repeats_a_text_then_it_is_embedded_once_in_one_request(
        self, promoted: httpx.Client, seed_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["memo-q1"]  # not searched before: not cached
        mark = len(seed_openai.requests)

        body = assert_ok(search(promoted, "legal-docs", text_query(text), text_query(text, top_k=3)))

        assert result_ids(body)[0] == "memo-q1"
        requests = requests_since(seed_openai, mark)
        assert len(requests) == 1, requests
        assert requests[0].inputs == [text]

    def test_when_one_search_has_several_texts_then_one_request_carries_each_distinct_text(
        self, promoted: httpx.Client, seed_openai: LoopbackOpenAI
    ) -> None:
        first, second = "standard confidentiality obligations", "termination for convenience"
        mark = len(seed_openai.requests)

        assert_ok(
            search(promoted, "legal-docs", text_query(first), text_query(second), text_query(first, top_k=2))
        )

        requests = requests_since(seed_openai, mark)
        assert len(requests) == 1, requests
        assert sorted(requests[0].inputs) == sorted([first, second])

    def test_when_the_same_search_is_repeated_then_the_query_embedding_comes_from_the_cache(
        self, promoted: httpx.Client, seed_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["msa-2023"]
        mark = len(seed_openai.requests)
        first = assert_ok(search(promoted, "legal-docs", text_query(text)))
        assert embedded_texts(requests_since(seed_openai, mark)) == [text]
        mark = len(seed_openai.requests)

        again = assert_ok(search(promoted, "legal-docs", text_query(text)))

        assert requests_since(seed_openai, mark) == []
        assert result_ids(again) == result_ids(first)
        assert result_ids(again)[0] == "msa-2023"
        assert again["results"][0]["score"] == pytest.approx(first["results"][0]["score"], abs=1e-6)

    def test_when_upserting_raw_text_after_promotion_then_it_is_embedded_and_findable_by_text(
        self,
        promoted: httpx.Client,
        seed_openai: LoopbackOpenAI,
        renewal_upserted: list[RecordedRequest],
    ) -> None:
        assert [(r.model, r.inputs) for r in renewal_upserted] == [(OPENAI_MODEL, [RENEWAL_TEXT])]
        stored = assert_ok(
            promoted.get(f"/v1/namespaces/legal-docs/documents/{RENEWAL_ID}", params={"return_vectors": True})
        )
        assert stored["payload"] == {"category": "contract", "title": "NDA renewal", "year": 2025}
        assert stored["vectors"]["text_embedding"] == pytest.approx(
            expected_vector(RENEWAL_TEXT, SEED_DIMENSION), abs=1e-6
        )

        body = assert_ok(search(promoted, "legal-docs", text_query(RENEWAL_TEXT)))

        assert result_ids(body)[0] == RENEWAL_ID
        assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)

    def test_when_upserting_vectors_into_the_added_image_index_then_they_are_searchable_at_once(
        self, promoted: httpx.Client, photo_upserted: list[float]
    ) -> None:
        body = assert_ok(
            search(promoted, "legal-docs", vector_query(photo_upserted, index="image_embedding"))
        )

        assert result_ids(body) == [PHOTO_ID]
        assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
        assert body["results"][0]["scores"] == {"image_embedding": pytest.approx(1.0, abs=1e-3)}

    def test_when_querying_the_image_index_by_text_then_503_names_clips_missing_weights(
        self, promoted: httpx.Client
    ) -> None:
        response = search(promoted, "legal-docs", text_query("photo of a signed contract", "image_embedding"))

        body = assert_error(response, 503, "InferenceServiceUnavailableError")
        message = body["error"]["message"]
        assert "clip_vit_b32" in message and "STRATUS_CLIP_WEIGHTS_URI" in message, message
        assert int(response.headers["Retry-After"]) >= 1

    def test_when_getting_the_namespace_then_it_is_managed_with_every_document_counted(
        self,
        promoted: httpx.Client,
        renewal_upserted: list[RecordedRequest],
        photo_upserted: list[float],
    ) -> None:
        namespace = assert_ok(promoted.get("/v1/namespaces/legal-docs"))

        assert namespace["mode"] == "managed"
        assert namespace["status"] == "active"
        assert namespace["vector_configs"] == SEED_PROMOTION_RESPONSE["vector_configs"]
        assert namespace["vector_inference_map"] == SEED_PROMOTION_RESPONSE["vector_inference_map"]
        # Four seed documents, the renewal (text index) and the photo (image index).
        assert namespace["document_count"] == len(LEGAL_TEXTS) + 2
        assert (namespace["bucket_count"], namespace["collection_count"], namespace["object_count"]) == (
            0,
            0,
            0,
        )

    def test_when_promoting_again_then_409_and_nothing_changes(self, promoted: httpx.Client) -> None:
        before = assert_ok(promoted.get("/v1/namespaces/legal-docs"))

        for body in (PROMOTE_BODY, {}):
            response = promoted.post("/v1/namespaces/legal-docs/promote", json=body)
            error = assert_error(response, 409, "ConflictError")
            assert "one-way" in error["error"]["message"]

        after = assert_ok(promoted.get("/v1/namespaces/legal-docs"))
        assert (after["mode"], after["vector_configs"], after["vector_inference_map"]) == (
            before["mode"],
            before["vector_configs"],
            before["vector_inference_map"],
        )


# =================================================================================================
# b. An inference outage: 503 with Retry-After, nothing cached, recovery on the next call

MAX_ATTEMPTS = 2


@pytest.fixture(scope="class")
def outage_openai() -> Iterator[LoopbackOpenAI]:
    with LoopbackOpenAI(api_key="sk-loopback-e2e-outage") as server:
        yield server


@pytest.fixture(scope="class")
def outage_client(
    tmp_path_factory: pytest.TempPathFactory, outage_openai: LoopbackOpenAI
) -> Iterator[httpx.Client]:
    """`legal-docs` loaded and promoted (mapping only, as the seed's curl) on a stack that tries
    the provider at most twice per call."""
    env = openai_env(outage_openai, STRATUS_OPENAI_MAX_ATTEMPTS=str(MAX_ATTEMPTS))
    with running_stack(tmp_path_factory, "promotion-outage", env) as stack, stack.client() as client:
        create_seed_namespace(client)
        upsert_legal_documents(client)
        promoted = assert_ok(
            client.post(
                "/v1/namespaces/legal-docs/promote",
                json=seed_body("promotion-promote-mapping-only.json"),
            )
        )
        assert promoted["vector_inference_map"] == {"text_embedding": "openai_text_3_small"}
        yield client


class TestInferenceOutage:
    @staticmethod
    def _assert_unavailable(response: httpx.Response) -> str:
        body = assert_error(response, 503, "InferenceServiceUnavailableError")
        assert body["error"]["details"]["service"] == "openai_text_3_small"
        assert "openai_text_3_small" in body["error"]["message"]
        assert "Retry-After" in response.headers
        assert int(response.headers["Retry-After"]) >= 1
        return str(body["error"]["message"])

    def _assert_recovers(self, client: httpx.Client, server: LoopbackOpenAI, document_id: str) -> None:
        """The same search now succeeds, embedding the text afresh (the failure was not cached)."""
        text = LEGAL_TEXTS[document_id]
        mark = len(server.requests)
        body = assert_ok(search(client, "legal-docs", text_query(text)))
        assert result_ids(body)[0] == document_id
        assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-3)
        assert embedded_texts(requests_since(server, mark)) == [text]

    def test_given_500_on_every_attempt_when_searching_by_text_then_503_and_later_success(
        self, outage_client: httpx.Client, outage_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["nda-2024"]
        outage_openai.fail_next(MAX_ATTEMPTS, status=500)
        mark = len(outage_openai.requests)

        response = search(outage_client, "legal-docs", text_query(text))

        message = self._assert_unavailable(response)
        assert "HTTP 500" in message and f"{MAX_ATTEMPTS} attempts" in message, message
        assert embedded_texts(requests_since(outage_openai, mark)) == [text] * MAX_ATTEMPTS
        self._assert_recovers(outage_client, outage_openai, "nda-2024")

    def test_given_429_with_retry_after_when_searching_by_text_then_503_passes_the_hint_on(
        self, outage_client: httpx.Client, outage_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["memo-q1"]
        outage_openai.fail_next(MAX_ATTEMPTS, status=429, retry_after=2)
        mark = len(outage_openai.requests)

        response = search(outage_client, "legal-docs", text_query(text))

        message = self._assert_unavailable(response)
        assert "429" in message, message
        assert response.headers["Retry-After"] == "2"
        assert embedded_texts(requests_since(outage_openai, mark)) == [text] * MAX_ATTEMPTS
        self._assert_recovers(outage_client, outage_openai, "memo-q1")

    def test_given_one_transient_failure_when_searching_by_text_then_the_retry_answers(
        self, outage_client: httpx.Client, outage_openai: LoopbackOpenAI
    ) -> None:
        text = LEGAL_TEXTS["brief-7"]
        outage_openai.fail_next(1, status=503)
        mark = len(outage_openai.requests)

        body = assert_ok(search(outage_client, "legal-docs", text_query(text)))

        assert result_ids(body)[0] == "brief-7"
        assert embedded_texts(requests_since(outage_openai, mark)) == [text, text]


# =================================================================================================
# c. + d. A stack with the default environment (no OpenAI key): minilm_l6_v2, standalone rules


@pytest.fixture(scope="module")
def default_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with running_stack(tmp_path_factory, "promotion-local-model") as stack, stack.client() as client:
        yield client


@pytest.fixture(scope="module")
def product_search(default_client: httpx.Client) -> httpx.Client:
    """`product-search` (384-d) promoted to `minilm_l6_v2`, then loaded by raw text."""
    assert_ok(
        default_client.post(
            "/v1/namespaces/standalone",
            json={
                "namespace_id": "product-search",
                "mode": "standalone",
                "vector_configs": [{"name": "text_embedding", "dimension": 384, "metric": "cosine"}],
            },
        )
    )
    promoted = assert_ok(
        default_client.post(
            "/v1/namespaces/product-search/promote",
            json={
                "vector_mappings": [{"existing_index": "text_embedding", "inference_service": "minilm_l6_v2"}]
            },
        )
    )
    assert promoted["vector_inference_map"] == {"text_embedding": "minilm_l6_v2"}
    upserted = assert_ok(
        default_client.post(
            "/v1/namespaces/product-search/documents/direct",
            json={
                "documents": [
                    {
                        "document_id": doc_id,
                        "vectors": {"text_embedding": {"text": text}},
                        "payload": {"text": text},
                    }
                    for doc_id, text in LOCAL_TEXTS.items()
                ]
            },
            timeout=MODEL_TIMEOUT_SECONDS,
        )
    )
    assert sorted(upserted["document_ids"]) == sorted(LOCAL_TEXTS)
    return default_client


class TestLocalModelPath:
    @pytest.mark.parametrize(
        ("query", "expected_first"),
        [("a kitten resting on a rug", "cat"), ("football match result", "football")],
    )
    def test_when_searching_by_text_then_the_semantically_closest_document_is_first(
        self, product_search: httpx.Client, query: str, expected_first: str
    ) -> None:
        body = assert_ok(
            search(product_search, "product-search", text_query(query), timeout=MODEL_TIMEOUT_SECONDS)
        )

        assert result_ids(body)[0] == expected_first, body["results"]
        assert sorted(result_ids(body)) == sorted(LOCAL_TEXTS)
        assert body["results"][0]["score"] > body["results"][1]["score"]


@pytest.fixture(scope="module")
def contracts_archive(default_client: httpx.Client) -> httpx.Client:
    """A standalone namespace that is never promoted."""
    assert_ok(
        default_client.post(
            "/v1/namespaces/standalone",
            json={
                "namespace_id": "contracts-archive",
                "vector_configs": [{"name": "text_embedding", "dimension": 8, "metric": "cosine"}],
            },
        )
    )
    assert_ok(
        default_client.post(
            "/v1/namespaces/contracts-archive/documents/direct",
            json={"documents": [{"document_id": "c-1", "vectors": {"text_embedding": unit_vector(1, 8)}}]},
        )
    )
    return default_client


class TestStandaloneTextQuery:
    def test_given_a_standalone_namespace_when_searching_by_text_then_400_says_send_a_vector_or_promote(
        self, contracts_archive: httpx.Client
    ) -> None:
        response = search(contracts_archive, "contracts-archive", text_query("termination clause"))

        body = assert_error(response, 400, "BadRequestError")
        message = body["error"]["message"]
        assert "vector" in message and "promote" in message, message
        assert "standalone" in message, message

    def test_given_a_standalone_namespace_when_upserting_text_then_400_says_promote(
        self, contracts_archive: httpx.Client
    ) -> None:
        response = contracts_archive.post(
            "/v1/namespaces/contracts-archive/documents/direct",
            json={"documents": [{"document_id": "c-2", "vectors": {"text_embedding": {"text": "a clause"}}}]},
        )

        body = assert_error(response, 400, "BadRequestError")
        assert "promote" in body["error"]["message"], body
        assert contracts_archive.get("/v1/namespaces/contracts-archive/documents/c-2").status_code == 404

    def test_the_namespace_stays_standalone_and_vector_search_still_works(
        self, contracts_archive: httpx.Client
    ) -> None:
        namespace = assert_ok(contracts_archive.get("/v1/namespaces/contracts-archive"))
        assert (namespace["mode"], namespace["vector_inference_map"]) == ("standalone", {})
        body = assert_ok(search(contracts_archive, "contracts-archive", vector_query(unit_vector(1, 8))))
        assert result_ids(body) == ["c-1"]
        assert body["warnings"] == []
