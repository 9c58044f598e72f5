"""Knowledge documents and search through the API: ingestion, each search mode, listing,
deleting, and the problems bad input gets."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.accounts import make_tenant, signed_in
from tests.support.workload_knowledge import HANDBOOK, add_document, editor, search

DOCS = "/v1/apps/thinktank/knowledge/documents"
RECIPES = """Sourdough bread needs a lively starter, flour, water and salt.

Knead the dough, let it rise overnight in a cool place, then bake it in a hot oven."""
GARDEN = """Tomatoes want full sun and deep watering twice a week.

Prune the side shoots so the plant puts its strength into the fruit."""


@pytest.fixture
async def kb(client, db):
    """A tenant of thinktank with an editor who added three documents."""
    tenant = await make_tenant(db, "thinktank")
    user = await editor(client, db, tenant, "writer@example.com")
    docs = {
        "handbook": await add_document(client, user, "Staff handbook", HANDBOOK),
        "recipes": await add_document(client, user, "Bread", RECIPES, source="bread.md"),
        "garden": await add_document(client, user, "Garden", GARDEN, metadata={"shelf": "b"}),
    }
    return tenant, user, docs


def vector_available(urls) -> bool:
    with psycopg.connect(urls.admin) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'ai.knowledge_chunks'::regclass"
            " AND attname = 'embedding'"
        ).fetchone()
    return bool(row and row[0])


async def test_a_document_is_chunked_embedded_and_found(client, urls, kb) -> None:
    _, user, docs = kb
    handbook = docs["handbook"]
    assert handbook["chunk_count"] == 1
    assert handbook["content_length"] == len(HANDBOOK)
    if vector_available(urls):
        assert handbook["status"] == "ready"
        assert handbook["embedder"] == "hashing-384"
    else:
        assert handbook["status"] == "text_only"
        assert handbook["embedder"] is None
    assert docs["garden"]["metadata"] == {"shelf": "b"}
    assert docs["recipes"]["source"] == "bread.md"

    found = await search(client, user, "how long does the dough rise overnight")
    assert found["mode"] == ("hybrid" if vector_available(urls) else "fulltext")
    top = found["hits"][0]
    assert top["document_id"] == docs["recipes"]["id"]
    assert top["title"] == "Bread"
    assert top["ordinal"] == 0
    assert "overnight" in top["snippet"]
    assert top["fulltext_rank"] == 1
    assert top["fulltext_score"] > 0


async def test_each_mode_ranks_the_matching_document_first(client, urls, kb) -> None:
    _, user, docs = kb
    if not vector_available(urls):
        pytest.skip("no pgvector on this server: test_without_pgvector.py covers it")
    for mode in ("vector", "fulltext", "hybrid"):
        found = await search(client, user, "tomatoes full sun watering", mode=mode)
        assert found["mode"] == mode
        assert found["hits"][0]["document_id"] == docs["garden"]["id"], mode
    vector = await search(client, user, "tomatoes full sun watering", mode="vector")
    assert vector["strategy"] == "exact"  # three chunks: every one measured
    assert vector["hits"][0]["score"] == pytest.approx(vector["hits"][0]["vector_similarity"])
    assert vector["hits"][0]["fulltext_rank"] is None
    assert len(vector["hits"]) == 3  # vector search ranks every chunk, however far
    fulltext = await search(client, user, "tomatoes", mode="fulltext")
    assert [h["document_id"] for h in fulltext["hits"]] == [docs["garden"]["id"]]
    assert fulltext["strategy"] == "none"


async def test_hybrid_fuses_both_rankings(client, urls, kb) -> None:
    _, user, docs = kb
    if not vector_available(urls):
        pytest.skip("no pgvector on this server")
    hybrid = await search(client, user, "laptop replaced help desk", limit=3)
    top = hybrid["hits"][0]
    assert top["document_id"] == docs["handbook"]["id"]
    assert top["vector_rank"] == 1
    assert top["fulltext_rank"] == 1
    assert top["score"] == pytest.approx(2 / 61)  # first in both rankings: 1/(60+1) twice
    assert [h["score"] for h in hybrid["hits"]] == sorted(
        (h["score"] for h in hybrid["hits"]), reverse=True
    )


async def test_same_content_is_stored_once(client, kb) -> None:
    _, user, docs = kb
    again = await add_document(client, user, "Another title", GARDEN, expect=200)
    assert again["id"] == docs["garden"]["id"]
    assert again["title"] == "Garden"
    listed = await client.get(DOCS, headers=user.auth)
    assert len(listed.json()["items"]) == 3


async def test_documents_are_listed_newest_first_in_pages(client, kb) -> None:
    _, user, docs = kb
    first = await client.get(DOCS, headers=user.auth, params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [d["id"] for d in page["items"]] == [docs["garden"]["id"], docs["recipes"]["id"]]
    second = await client.get(
        DOCS, headers=user.auth, params={"limit": 2, "cursor": page["next_cursor"]}
    )
    assert [d["id"] for d in second.json()["items"]] == [docs["handbook"]["id"]]
    assert second.json()["next_cursor"] is None
    one = await client.get(f"{DOCS}/{docs['recipes']['id']}", headers=user.auth)
    assert one.status_code == 200
    assert one.json()["title"] == "Bread"


async def test_a_deleted_document_is_gone_with_its_chunks(client, kb) -> None:
    _, user, docs = kb
    gone = await client.delete(f"{DOCS}/{docs['recipes']['id']}", headers=user.auth)
    assert gone.status_code == 204
    assert (
        await client.get(f"{DOCS}/{docs['recipes']['id']}", headers=user.auth)
    ).status_code == 404
    found = await search(client, user, "sourdough dough overnight", mode="fulltext")
    assert docs["recipes"]["id"] not in {h["document_id"] for h in found["hits"]}
    again = await client.delete(f"{DOCS}/{docs['recipes']['id']}", headers=user.auth)
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"


async def test_an_app_without_documents_finds_nothing(client, db) -> None:
    tenant = await make_tenant(db, "thinktank")
    user = await signed_in(client, "thinktank", tenant, "reader@example.com")
    found = await search(client, user, "anything at all")
    assert found["hits"] == []


async def test_writing_takes_the_privilege_reading_does_not(client, db, kb) -> None:
    tenant, _, docs = kb
    reader = await signed_in(client, "thinktank", tenant, "reader@example.com")
    refused = await client.post(
        DOCS, headers=reader.auth, json={"title": "t", "content": "some words"}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_privilege"
    named = await client.delete(f"{DOCS}/{docs['garden']['id']}", headers=reader.auth)
    assert named.status_code == 404  # never confirms the document to someone who cannot write
    found = await search(client, reader, "sourdough", mode="fulltext")
    assert found["hits"][0]["document_id"] == docs["recipes"]["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "content": "words"}, "title"),
        ({"title": "t"}, "content"),
        ({"title": "t", "content": "x" * 500_001}, "content"),
        ({"title": "t", "content": "words", "colour": "red"}, "colour"),
        ({"title": "t", "content": "words", "metadata": []}, "metadata"),
        ({"title": "t", "content": "words", "metadata": {"k": "v" * 16_400}}, "metadata"),
        ({"title": "t", "content": "words", "metadata": {"k": "a\u0000b"}}, "metadata"),
        ({"title": "t\u0000", "content": "words"}, "title"),
        ({"title": "t", "content": "nul \u0000 inside"}, "content"),
    ],
)
async def test_bad_documents_are_problems(client, kb, body, field) -> None:
    _, user, _ = kb
    response = await client.post(DOCS, headers=user.auth, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_failed"
    assert field in response.text


async def test_content_without_words_is_refused(client, kb) -> None:
    _, user, _ = kb
    response = await client.post(DOCS, headers=user.auth, json={"title": "t", "content": " \n\n "})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert "no words" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "x", "mode": "psychic"}, {"q": "x", "limit": 0}, {"q": "x" * 1001}],
)
async def test_bad_searches_are_problems(client, kb, params) -> None:
    _, user, _ = kb
    response = await client.get(
        "/v1/apps/thinktank/knowledge/search", headers=user.auth, params=params
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_a_search_for_nothing_is_a_problem(client, kb) -> None:
    _, user, _ = kb
    for q in ("   ", "nul \u0000 inside"):
        found = await search(client, user, q, expect=422)
        assert found["code"] == "invalid_input"


async def test_bad_cursors_and_ids_are_problems(client, kb) -> None:
    _, user, _ = kb
    cursor = await client.get(DOCS, headers=user.auth, params={"cursor": "not-a-cursor"})
    assert cursor.status_code == 422
    unknown = await client.get(f"{DOCS}/0190a3c4-0000-7000-8000-000000000000", headers=user.auth)
    assert unknown.status_code == 404
    malformed = await client.get(f"{DOCS}/nope", headers=user.auth)
    assert malformed.status_code == 422
