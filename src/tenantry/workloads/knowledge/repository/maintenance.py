"""SQL of `tenantry db maintain` for the knowledge workload: scope indexes. Sizes are read in a
platform transaction, across tenants; the indexes are built and dropped by a connection acting
as the tables' owner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, LiteralString

from psycopg import sql

from tenantry.workloads.knowledge.models import ScopeSize

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from tenantry.library import Transaction

# A scope's own HNSW index (`tenantry db maintain` builds one for each large scope) is named
# after a digest of its tenant and app: names hold at most 63 bytes.
SCOPE_INDEX_PREFIX: LiteralString = "knowledge_chunks_scope_"
# A scope index's graph. Twice the shared index's ef_construction (migration w0003): one
# tenant's chunks crowd around fewer topics than the whole table's, and a graph built with the
# default links those clusters too sparsely for some queries to find theirs.
SCOPE_HNSW_OPTIONS: LiteralString = "WITH (m = 16, ef_construction = 128)"


def _scope_index_name(tenant: LiteralString, app: LiteralString) -> LiteralString:
    return f"'{SCOPE_INDEX_PREFIX}' || left(md5({tenant}::text || '/' || {app}::text), 24)"


# The name of the scope index of the transaction's context, and of a row's scope.
SCOPE_INDEX_OF_CONTEXT: LiteralString = _scope_index_name("s.tenant_id", "s.app_id")
_SCOPE_INDEX_OF_ROW: LiteralString = _scope_index_name("tenant_id", "app_id")


async def scope_sizes(tx: Transaction, min_chunks: int) -> list[ScopeSize]:
    """Every scope with more than `min_chunks` embedded chunks."""
    rows = await tx.fetch_all(
        f"""
        SELECT tenant_id, app_id, sum(chunk_count)::bigint AS chunks,
               {_SCOPE_INDEX_OF_ROW} AS index_name
          FROM ai.knowledge_documents
         WHERE status = 'ready'
         GROUP BY tenant_id, app_id
        HAVING sum(chunk_count) > %s
        """,
        [min_chunks],
    )
    return [ScopeSize(**row) for row in rows]


async def scope_indexes(owner: AsyncConnection[Any]) -> dict[str, bool]:
    """The scope indexes that exist, by name: valid, or left invalid by a failed build."""
    cursor = await owner.execute(
        "SELECT x.relname, i.indisvalid FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid"
        " WHERE i.indrelid = 'ai.knowledge_chunks'::regclass AND starts_with(x.relname, %s)",
        [SCOPE_INDEX_PREFIX],
    )
    return dict(await cursor.fetchall())


async def build_scope_index(owner: AsyncConnection[Any], scope: ScopeSize, memory: str) -> None:
    """The scope's own HNSW index, built without blocking writes (`CONCURRENTLY`): a partial
    index of its chunks, which a search that names the scope's tenant and app can use."""
    await owner.execute("SELECT set_config('maintenance_work_mem', %s, false)", [memory])
    await owner.execute(
        sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON ai.knowledge_chunks"
            " USING hnsw (embedding vector_cosine_ops) " + SCOPE_HNSW_OPTIONS + " "
            "WHERE tenant_id = {} AND app_id = {}"
        ).format(
            sql.Identifier(scope.index_name),
            sql.Literal(scope.tenant_id),
            sql.Literal(scope.app_id),
        )
    )


async def drop_scope_index(owner: AsyncConnection[Any], name: str) -> None:
    await owner.execute(
        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS ai.{}").format(sql.Identifier(name))
    )
