"""Knowledge search: documents, their chunks (full-text and, with pgvector, embeddings) and the
chunks' terms, all app-scoped in schema `ai`; the privilege `knowledge.manage` (adding and
deleting documents) held by the `owner` and `admin` templates.

- knowledge_documents, keyed (tenant_id, app_id, id): the keyset listing walks the key, newest
  first (ids are UUIDv7); unique by content hash, so a document is stored once per app;
  (tenant, app, id, chunk_count, term_count) gives search its collection statistics from the
  index alone.
- knowledge_chunks, keyed (tenant_id, app_id, document_id, ordinal): a scope's chunks are one
  range of the key, which the exact vector search walks. `search` is the stored tsvector.
  Where the server has pgvector (`tenantry db upgrade` creates it as superuser where it can),
  `embedding vector(<TENANTRY_EMBEDDING_DIMENSIONS>)` and its HNSW index (cosine) exist too;
  elsewhere the table has no embedding and search is full-text only.
- knowledge_terms, keyed (tenant_id, app_id, document_id, ordinal, lexeme): each chunk's
  lexemes with their frequency, an inverted index kept as a table. A GIN index on `search` is
  no use under row-level security: `@@` is not leakproof, so the planner never puts it before
  the policy and filters every chunk of the scope instead (measured: 570 ms for a
  150,000-chunk scope). Text equality is leakproof, so (tenant, app, lexeme, ...) is an index
  condition and scores come from an index-only scan.

Revision ID: w0003
Revises: w0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

from tenantry.library import Reference, ScopedTable, TableScope
from tenantry.library.alembic import create_scoped_table, drop_scoped_table
from tenantry.library.knowledge import knowledge_settings
from tenantry.library.privileges import Privilege, register_privileges, unregister_privileges

revision = "w0003"
down_revision = "w0001"
branch_labels = None
depends_on = None

SCHEMA = "ai"
# Full-text configuration of the stored tsvector (stemming, stop words); queries use the same.
TEXT_SEARCH_CONFIG = "english"

DOCUMENTS = ScopedTable(
    name="knowledge_documents",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=("app_id", "id"),
    columns=(
        "title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500)",
        "source text CHECK (length(source) <= 2000)",
        "content_sha256 bytea NOT NULL CHECK (length(content_sha256) = 32)",
        "content_length integer NOT NULL CHECK (content_length >= 1)",
        # ready: chunks and embeddings; text_only: stored where pgvector was missing, so
        # found by full-text search only.
        "status text NOT NULL CHECK (status IN ('ready', 'text_only'))",
        "chunk_count integer NOT NULL CHECK (chunk_count >= 1)",
        # Lexeme positions over all chunks: the document's share of the average chunk length.
        "term_count integer NOT NULL DEFAULT 0 CHECK (term_count >= 0)",
        "embedder text CHECK (length(embedder) <= 200)",
        (
            "metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object' "
            "AND octet_length(metadata::text) <= 16384)"
        ),
        "created_by uuid",
        "created_at timestamptz NOT NULL DEFAULT now()",
        "updated_at timestamptz NOT NULL DEFAULT now()",
    ),
    unique=("content_sha256",),
    # The key again, with the counts: a document by id, and a scope's statistics from the
    # index alone (an index on the counts only was chosen for lookups by id, filtering them).
    indexes=("id, chunk_count, term_count",),
)


def _chunks(dimensions: int | None) -> ScopedTable:
    embedding = () if dimensions is None else (f"embedding vector({dimensions}) NOT NULL",)
    return ScopedTable(
        name="knowledge_chunks",
        schema=SCHEMA,
        scope=TableScope.APP,
        primary_key=("app_id", "document_id", "ordinal"),
        columns=(
            "document_id uuid NOT NULL",
            "ordinal integer NOT NULL CHECK (ordinal >= 0)",
            "content text NOT NULL CHECK (length(content) BETWEEN 1 AND 20000)",
            (
                f"search tsvector NOT NULL GENERATED ALWAYS AS "
                f"(to_tsvector('{TEXT_SEARCH_CONFIG}', content)) STORED"
            ),
            *embedding,
        ),
        references=(
            Reference(
                ("app_id", "document_id"), "knowledge_documents", ("app_id", "id"), "CASCADE"
            ),
        ),
    )


TERMS = ScopedTable(
    name="knowledge_terms",
    schema=SCHEMA,
    scope=TableScope.APP,
    primary_key=("app_id", "document_id", "ordinal", "lexeme"),
    columns=(
        "document_id uuid NOT NULL",
        "ordinal integer NOT NULL",
        # Byte order: lexemes are only ever compared for equality.
        'lexeme text COLLATE "C" NOT NULL',
        "frequency integer NOT NULL CHECK (frequency >= 1)",
        # The chunk's length in lexeme positions, for length normalisation (BM25).
        "chunk_terms integer NOT NULL CHECK (chunk_terms >= 1)",
    ),
    references=(
        Reference(
            ("app_id", "document_id", "ordinal"),
            "knowledge_chunks",
            ("app_id", "document_id", "ordinal"),
            "CASCADE",
        ),
    ),
    # The search's access path: a lexeme's postings in one scope, scored without the heap.
    indexes=("lexeme, document_id, ordinal, frequency, chunk_terms",),
)

MANAGE = Privilege(
    "knowledge.manage",
    "Add and delete the documents of an app's knowledge base",
    templates=("admin",),
)


def _pgvector_installed() -> bool:
    # Created by `tenantry db upgrade` (superuser) or an operator, in schema public, which the
    # runtime role's search path names.
    row = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT count(*) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector' AND n.nspname = 'public'"
        )
        .fetchone()
    )
    return bool(row and row[0])


def upgrade() -> None:
    dimensions = knowledge_settings().embedding_dimensions if _pgvector_installed() else None
    create_scoped_table(DOCUMENTS)
    create_scoped_table(_chunks(dimensions))
    create_scoped_table(TERMS)
    if dimensions is not None:
        # Embeddings stay in the row unless it cannot fit: the exact search reads them
        # for every chunk of a small scope.
        op.execute(f"ALTER TABLE {SCHEMA}.knowledge_chunks ALTER COLUMN embedding SET STORAGE MAIN")
        op.execute(
            f"CREATE INDEX knowledge_chunks_embedding ON {SCHEMA}.knowledge_chunks "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
    register_privileges(MANAGE)


def downgrade() -> None:
    unregister_privileges(MANAGE)
    drop_scoped_table(TERMS)
    drop_scoped_table(_chunks(None))
    drop_scoped_table(DOCUMENTS)
