"""The knowledge API, under `/v1/apps/{app}/knowledge` (docs/knowledge.md).

Who may call what:
- searching, listing and reading documents: `Scope.PROFILE`, every user of the app (the
  knowledge base is the app's, shared by its users), in a READ ONLY transaction;
- adding and deleting documents: `Scope.PROFILE` and the privilege `knowledge.manage`. A
  document changes what every user of the app finds (and what assistants answer from), so
  writing is deny by default: the `owner` and `admin` role templates hold the privilege, and a
  tenant administrator gives it to others with a role. Not `Scope.ADMIN`: that scope belongs to
  the admin app's credentials, while documents are rows of the app that searches them.

Another tenant's or app's document is a 404, as is a missing one.
"""

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response, status

from tenantry.library import (
    InvalidInput,
    Principal,
    RequiresPrivilege,
    Scope,
    Scoped,
    TenantTransaction,
    database,
)
from tenantry.library.http import PROBLEM_RESPONSES, resolve_route_app
from tenantry.library.knowledge import knowledge_settings
from tenantry.workloads.knowledge.embedders import Embedder, embedder_from
from tenantry.workloads.knowledge.models import Author, SearchMode
from tenantry.workloads.knowledge.schemas import DocumentIn, DocumentOut, DocumentPage, SearchOut
from tenantry.workloads.knowledge.service import KnowledgeService, NewDocument

MANAGE = "knowledge.manage"

router = APIRouter(
    prefix="/v1/apps/{app}/knowledge",
    tags=["knowledge"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(resolve_route_app)],
)
service = KnowledgeService()

Reads = Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)]


async def _managing(
    request: Request, principal: Annotated[Principal, RequiresPrivilege(MANAGE, Scope.PROFILE)]
) -> AsyncIterator[Scoped]:
    async with database(request).tenant_transaction(principal.context) as tx:
        yield Scoped(principal, tx)


# As `TenantTransaction`: committed before the answer is sent.
Manages = Annotated[Scoped, Depends(_managing, scope="function")]


@lru_cache(maxsize=1)
def configured_embedder() -> Embedder:
    """The process's embedder, from `TENANTRY_EMBEDDER` (built on first use)."""
    return embedder_from(knowledge_settings())


Embedding = Annotated[Embedder, Depends(configured_embedder)]


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": DocumentOut, "description": "The same content was already there"}},
)
async def add_document(
    body: DocumentIn, scoped: Manages, embedder: Embedding, response: Response
) -> DocumentOut:
    """Chunk, embed and index a document, in one transaction. Content the app already holds
    is not stored twice: the answer is then 200 with the stored document."""
    new = NewDocument(body.title, body.content, body.source, body.metadata)
    principal = scoped.principal
    author = Author(principal.tenant_id, principal.app_id, principal.app_user_id)
    document, created = await service.add_document(scoped.tx, author, embedder, new)
    if not created:
        response.status_code = status.HTTP_200_OK
    return DocumentOut.of(document)


@router.get("/documents")
async def list_documents(
    scoped: Reads,
    cursor: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[0-9a-f-]{36}$",
            description="`next_cursor` of the previous page; leave out for the first page.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DocumentPage:
    """The app's documents, newest first."""
    documents = await service.documents(scoped.tx, _cursor(cursor), limit)
    last = documents[-1].id if len(documents) == limit else None
    return DocumentPage(
        items=[DocumentOut.of(d) for d in documents], next_cursor=str(last) if last else None
    )


@router.get("/documents/{document_id}")
async def get_document(document_id: UUID, scoped: Reads) -> DocumentOut:
    return DocumentOut.of(await service.document(scoped.tx, document_id))


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: UUID, scoped: Manages) -> None:
    """Delete a document with its chunks, embeddings and terms."""
    await service.delete_document(scoped.tx, document_id)


@router.get("/search")
async def search(
    scoped: Reads,
    embedder: Embedding,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
    mode: Annotated[
        SearchMode | None,
        Query(description="Default: hybrid where the server has pgvector, else fulltext."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchOut:
    """The app's chunks that best match `q`: by meaning (vector), by words (fulltext, BM25),
    or both fused by reciprocal rank (hybrid). A server without pgvector answers a vector or
    hybrid request with 422 `vector_search_unavailable`."""
    if not q.strip() or "\x00" in q:
        raise InvalidInput("q: give some words to look for")
    return SearchOut.of(await service.search(scoped.tx, embedder, q, mode, limit))


def _cursor(cursor: str | None) -> UUID | None:
    if cursor is None:
        return None
    try:
        return UUID(cursor)
    except ValueError as exc:
        raise InvalidInput("cursor: not a next_cursor of this listing") from exc
