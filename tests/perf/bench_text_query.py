"""Text-query latency split: where the time of a raw-text search goes on the local stack.

A standalone namespace with a 384-d `text_embedding` index gets random vectors, is promoted
(`text_embedding` -> `minilm_l6_v2`), then answers distinct text queries (each embedded once by
the server: an embedding-cache miss) interleaved with vector queries on the same index. Then the
same texts again (cache hits: the per-container query-embedding cache). The split:

- search part = server `took_ms` of the vector queries (namespace read + LanceDB query);
- embedding = `took_ms` of text queries - `took_ms` of vector queries (p50s), checked against
  `MiniLMEmbedder.embed_texts([text])` timed in this process on the same texts;
- HTTP + framework = total HTTP latency - `took_ms`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from stratus.adapters.inference.minilm import MiniLMEmbedder
from tests.perf.common import DIMENSION, Summary, ms, random_unit_vectors, ratio, summarize, table
from tests.perf.context import Context
from tests.perf.stack import (
    LocalStack,
    create_standalone,
    expect,
    json_floats,
    post_search,
    post_upsert,
    search_body,
    upsert_body,
)

NAME = "text_query"
TITLE = "Text-query latency split (minilm_l6_v2 on the local stack)"
NAMESPACE = "bench-text"
INDEX = "text_embedding"
SERVICE = "minilm_l6_v2"
TOP_K = 10
# In-process embedding runs on the first texts only: with the default threads on a busy machine a
# call can take ~0.5 s (see RESULTS.md), and this row only checks the server's figure.
IN_PROCESS_TEXTS = 50
_SUBJECTS = (
    "wireless headphones", "running shoes", "tax filing deadline", "cat sleeping", "mountain bike",
    "espresso machine", "contract indemnification clause", "solar panel", "winter jacket", "garden hose",
    "vintage camera", "python tutorial", "kitchen knife", "hotel near the beach", "electric guitar",
)  # fmt: skip
_MODIFIERS = (
    "cheap", "best rated", "for beginners", "waterproof", "lightweight", "in stock", "second hand",
    "with free shipping", "for kids", "professional", "on sale this week", "made in Italy",
)  # fmt: skip
_CONTEXTS = (
    "reviews", "compared to last year", "near me", "under 100 dollars", "how to choose", "explained",
    "warranty terms", "for a small apartment", "gift ideas", "long battery life",
)  # fmt: skip


def query_texts(count: int, seed: int = 7) -> list[str]:
    """`count` distinct, realistic-length search texts; the same for a seed."""
    rng = np.random.default_rng(seed)
    texts: dict[str, None] = {}
    while len(texts) < count:
        text = f"{rng.choice(_MODIFIERS)} {rng.choice(_SUBJECTS)} {rng.choice(_CONTEXTS)} #{len(texts)}"
        texts[text] = None
    return list(texts)


@dataclass
class Series:
    seconds: list[float] = field(default_factory=list)
    took_ms: list[float] = field(default_factory=list)

    def http_p50(self) -> float:
        return summarize(self.seconds).p50_ms

    def took_p50(self) -> float:
        return float(np.percentile(self.took_ms, 50)) if self.took_ms else float("nan")


def prepare(stack: LocalStack, documents: int, batch: int) -> None:
    vectors = random_unit_vectors(documents, seed=3)
    with stack.client() as client:
        create_standalone(client, NAMESPACE, INDEX, DIMENSION)
        for start in range(0, documents, batch):
            post_upsert(client, NAMESPACE, upsert_body(INDEX, vectors[start : start + batch], start))
        body = {"vector_mappings": [{"existing_index": INDEX, "inference_service": SERVICE}]}
        expect(client.post(f"/v1/namespaces/{NAMESPACE}/promote", json=body))


def timed_search(client: httpx.Client, body: bytes, series: Series) -> None:
    started = time.perf_counter()
    answer = post_search(client, body)
    series.seconds.append(time.perf_counter() - started)
    series.took_ms.append(float(answer["took_ms"]))


def measure_http(stack: LocalStack, texts: list[str], vectors: list[list[float]]) -> dict[str, Series]:
    series = {name: Series() for name in ("first", "text", "vector", "repeated")}
    with stack.client() as client:
        # The first text query loads the model in the server.
        timed_search(
            client, search_body(NAMESPACE, INDEX, TOP_K, text="warm-up: load the model"), series["first"]
        )
        for vector in vectors[:5]:  # warm the connection and the table
            post_search(client, search_body(NAMESPACE, INDEX, TOP_K, vector=vector))
        for position, text in enumerate(texts):
            pair = [
                (search_body(NAMESPACE, INDEX, TOP_K, text=text), series["text"]),
                (search_body(NAMESPACE, INDEX, TOP_K, vector=vectors[position + 5]), series["vector"]),
            ]
            for body, target in pair if position % 2 == 0 else reversed(pair):
                timed_search(client, body, target)
        for text in texts:  # cached now (5 minutes, 512 entries)
            timed_search(client, search_body(NAMESPACE, INDEX, TOP_K, text=text), series["repeated"])
    return series


def measure_in_process(texts: list[str]) -> tuple[float, dict[int, list[float]]]:
    """Model load seconds, then seconds per one-text `embed_texts` call (as the server calls it),
    with torch's default intra-op threads and with one thread."""
    import torch

    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.warm_up()
    embedder.embed_texts(["warm-up"])
    load = time.perf_counter() - started
    default_threads = torch.get_num_threads()
    counts = list(dict.fromkeys((default_threads, 1)))
    seconds: dict[int, list[float]] = {threads: [] for threads in counts}
    try:
        for position, text in enumerate(texts[:IN_PROCESS_TEXTS]):  # interleaved, order alternating
            for threads in counts if position % 2 == 0 else reversed(counts):
                torch.set_num_threads(threads)
                started = time.perf_counter()
                embedder.embed_texts([text])
                seconds[threads].append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(default_threads)
    return load, seconds


def embedding_row(threads: int, embed: Summary, total_ms: float) -> list[str]:
    return [
        f"embedding in this process, `embed_texts([text])`, torch threads {threads}",
        str(embed.n),
        ms(embed.p50_ms),
        ms(embed.p95_ms),
        ratio(embed.p50_ms, total_ms),
    ]


def render(
    series: dict[str, Series], load_seconds: float, embed_seconds: dict[int, list[float]], documents: int
) -> str:
    text, vector, repeated = series["text"], series["vector"], series["repeated"]
    total = text.http_p50()
    rows = [
        ["text query, HTTP total (embedding-cache miss)", str(len(text.seconds)), ms(total),
         ms(summarize(text.seconds).p95_ms), "1.0x"],
        ["text query, server `took_ms`", str(len(text.took_ms)), ms(text.took_p50()),
         ms(float(np.percentile(text.took_ms, 95))), ratio(text.took_p50(), total)],
        ["vector query, HTTP total", str(len(vector.seconds)), ms(vector.http_p50()),
         ms(summarize(vector.seconds).p95_ms), ratio(vector.http_p50(), total)],
        ["vector query, server `took_ms` = search part", str(len(vector.took_ms)), ms(vector.took_p50()),
         ms(float(np.percentile(vector.took_ms, 95))), ratio(vector.took_p50(), total)],
        ["embedding (server), text `took_ms` p50 - vector `took_ms` p50", "-",
         ms(text.took_p50() - vector.took_p50()), "-", ratio(text.took_p50() - vector.took_p50(), total)],
        ["HTTP + framework, text HTTP p50 - text `took_ms` p50", "-", ms(total - text.took_p50()), "-",
         ratio(total - text.took_p50(), total)],
        ["repeated text query (cache hit), HTTP total", str(len(repeated.seconds)), ms(repeated.http_p50()),
         ms(summarize(repeated.seconds).p95_ms), ratio(repeated.http_p50(), total)],
        ["repeated text query (cache hit), server `took_ms`", str(len(repeated.took_ms)),
         ms(repeated.took_p50()), ms(float(np.percentile(repeated.took_ms, 95))),
         ratio(repeated.took_p50(), total)],
    ]  # fmt: skip
    rows[5:5] = [
        embedding_row(threads, summarize(values), total) for threads, values in embed_seconds.items()
    ]
    first = series["first"]
    return "\n".join(
        [
            f"{documents:,} documents x {DIMENSION} dims, promoted to `{SERVICE}`; "
            f"{len(text.seconds)} distinct texts (5-12 words), each interleaved with a vector query on "
            f"the same index; top_k {TOP_K}, keep-alive client; ratio = p50 / text-query HTTP p50.",
            "",
            table(["operation", "n", "p50 ms", "p95 ms", "ratio"], rows),
            "",
            f"- First text query after promotion (the server loads the model): "
            f"{first.seconds[0] * 1000:,.0f} ms HTTP, `took_ms` {first.took_ms[0]:,.0f}.",
            f"- Loading the model in this process (import + first call): {load_seconds:.1f} s.",
            "- All requests here go back-to-back over one keep-alive connection, so each carries the "
            "local stack's fixed transport stall (see the search section's transport floor); it is the "
            "same for text and vector queries and cancels out of the embedding estimate.",
        ]
    )


def run(ctx: Context) -> str:
    sizes = ctx.sizes
    stack = ctx.stack()
    ctx.log(f"text_query: {sizes.text_documents} documents, promote")
    prepare(stack, sizes.text_documents, sizes.batch)
    texts = query_texts(sizes.text_queries)
    vectors = json_floats(random_unit_vectors(len(texts) + 5, seed=4))
    ctx.log(f"text_query: {len(texts)} text + {len(texts)} vector queries, then {len(texts)} repeated")
    series = measure_http(stack, texts, vectors)
    ctx.log("text_query: embedding in-process")
    load_seconds, embed_seconds = measure_in_process(texts)
    return render(series, load_seconds, embed_seconds, sizes.text_documents)
