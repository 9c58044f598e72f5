"""Embedders: the default hashing one, the OpenAI-compatible HTTP one against a real HTTP server
on loopback, and the optional MiniLM model where its extra is installed."""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tenantry.library.knowledge import KnowledgeSettings
from tenantry.workloads.knowledge.embedders import (
    EmbedderFailed,
    HashingEmbedder,
    HttpEmbedder,
    embedder_from,
)
from tenantry.workloads.knowledge.http import configured_embedder
from tests.support.accounts import make_tenant
from tests.support.workload_knowledge import add_document, editor, search

KEY = "sk-test-embeddings"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


async def test_hashing_vectors_are_unit_length_deterministic_and_lexical() -> None:
    embedder = HashingEmbedder(384)
    texts = [
        "the quarterly sales report for the northern region",
        "northern region quarterly sales report",
        "a recipe for sourdough bread with a lively starter",
        "",
    ]
    vectors = await embedder.embed(texts)
    assert [len(v) for v in vectors] == [384] * 4
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0) for v in vectors)
    assert vectors == await HashingEmbedder(384).embed(texts)  # same text, same vector
    shared, unrelated = cosine(vectors[0], vectors[1]), cosine(vectors[0], vectors[2])
    assert shared > 0.5
    assert shared > unrelated + 0.3
    assert embedder.name == "hashing-384"


@dataclass
class EmbeddingServer:
    """An OpenAI-compatible /v1/embeddings on loopback: vectors from the hashing embedder,
    answered out of order (clients must sort by `index`), every request recorded."""

    dimensions: int = 384
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    answer_dimensions: int | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture
def embedding_server() -> Iterator[EmbeddingServer]:
    state = EmbeddingServer()
    hashing = HashingEmbedder(state.dimensions)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), **body}
            )
            if (
                self.path != "/v1/embeddings"
                or self.headers.get("Authorization") != f"Bearer {KEY}"
            ):
                self._answer(401, {"error": {"message": "bad key"}})
                return
            if state.status != 200:
                self._answer(state.status, {"error": {"message": "overloaded"}})
                return
            size = state.answer_dimensions or body["dimensions"]
            data = [
                {"object": "embedding", "index": i, "embedding": hashing.vector(text)[:size]}
                for i, text in enumerate(body["input"])
            ]
            random.Random(len(data)).shuffle(data)
            self._answer(200, {"object": "list", "data": data, "model": body["model"]})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def http_embedder(server: EmbeddingServer, **overrides: Any) -> HttpEmbedder:
    options: dict[str, Any] = {
        "base_url": server.url,
        "model": "text-embedding-3-small",
        "dimensions": 384,
        "api_key": KEY,
        "batch_size": 4,
        **overrides,
    }
    return HttpEmbedder(**options)


async def test_http_embedder_batches_and_keeps_the_order(embedding_server) -> None:
    embedder = http_embedder(embedding_server)
    texts = [f"text number {n} about topic {n % 3}" for n in range(10)]
    try:
        vectors = await embedder.embed(texts)
    finally:
        await embedder.close()
    assert vectors == [HashingEmbedder(384).vector(t) for t in texts]
    assert [len(r["input"]) for r in embedding_server.requests] == [4, 4, 2]
    first = embedding_server.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["auth"] == f"Bearer {KEY}"
    assert first["model"] == "text-embedding-3-small"
    assert first["dimensions"] == 384
    assert first["encoding_format"] == "float"
    assert embedder.name == "http:text-embedding-3-small"


async def test_http_embedder_failures_are_embedder_failed(embedding_server) -> None:
    refused = http_embedder(embedding_server, api_key="wrong")
    with pytest.raises(EmbedderFailed, match="answered 401"):
        await refused.embed(["a text"])
    await refused.close()
    embedding_server.answer_dimensions = 100
    short = http_embedder(embedding_server)
    with pytest.raises(EmbedderFailed, match="100-dimensional embedding, not 384"):
        await short.embed(["a text"])
    await short.close()
    embedding_server.answer_dimensions = None
    embedding_server.status = 503
    overloaded = http_embedder(embedding_server)
    with pytest.raises(EmbedderFailed, match="answered 503"):
        await overloaded.embed(["a text"])
    await overloaded.close()
    closed = http_embedder(embedding_server, base_url="http://127.0.0.1:9/v1", timeout_seconds=2)
    with pytest.raises(EmbedderFailed, match="unreachable"):
        await closed.embed(["a text"])
    await closed.close()


def test_settings_choose_the_embedder() -> None:
    assert embedder_from(KnowledgeSettings()).name == "hashing-384"
    with pytest.raises(EmbedderFailed, match="TENANTRY_EMBEDDER_URL"):
        embedder_from(KnowledgeSettings(embedder="http"))
    with pytest.raises(EmbedderFailed, match="TENANTRY_EMBEDDER_MODEL"):
        embedder_from(KnowledgeSettings(embedder="http", embedder_url="http://127.0.0.1:9"))
    built = embedder_from(
        KnowledgeSettings(embedder="http", embedder_url="http://127.0.0.1:9/v1", embedder_model="m")
    )
    assert built.name == "http:m"
    assert built.dimensions == 384


async def test_the_api_ingests_and_searches_through_an_http_embedder(
    app, client, db, urls, embedding_server
) -> None:
    """The whole path with the HTTP embedder in place of the default: a document's chunks in
    batches, the query once, and the service's answers are the server's vectors."""
    embedder = http_embedder(embedding_server, batch_size=2)
    app.dependency_overrides[configured_embedder] = lambda: embedder
    try:
        tenant = await make_tenant(db, "thinktank")
        user = await editor(client, db, tenant, "http@example.com")
        text = "\n\n".join(
            f"Paragraph {n}: " + "the warehouse ships parcels every morning. " * 25
            for n in range(3)
        )
        document = await add_document(client, user, "Shipping", text)
        found = await search(client, user, "warehouse parcels")
    finally:
        del app.dependency_overrides[configured_embedder]
        await embedder.close()
    if document["status"] == "text_only":  # no pgvector: nothing to embed, nothing asked
        assert embedding_server.requests == []
        return
    assert document["embedder"] == "http:text-embedding-3-small"
    batches = [len(r["input"]) for r in embedding_server.requests]
    assert sum(batches[:-1]) == document["chunk_count"] > 2
    assert max(batches) == 2
    assert embedding_server.requests[-1]["input"] == ["warehouse parcels"]
    assert found["mode"] == "hybrid"
    assert found["hits"][0]["document_id"] == document["id"]


async def test_minilm_embeds_meaning_where_the_extra_is_installed() -> None:
    pytest.importorskip("sentence_transformers", reason="the optional extra tenantry[embeddings]")
    from tenantry.workloads.knowledge.embedders.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    car, automobile, bread = await embedder.embed(
        ["I parked my car outside", "The automobile is parked out front", "Bake the bread"]
    )
    assert len(car) == embedder.dimensions == 384
    assert math.isclose(math.sqrt(sum(x * x for x in car)), 1.0, rel_tol=1e-4)
    # Synonyms without a shared word: a lexical embedder cannot see this, the model does.
    assert cosine(car, automobile) > cosine(car, bread) + 0.2
    assert embedder_from(KnowledgeSettings(embedder="minilm")).name == "all-MiniLM-L6-v2"
