"""Scope indexes: each large scope gets its own HNSW index, run by `tenantry db maintain`.

Row-level security filters what an approximate index yields. Through the table's one HNSW
index, a scope of a few percent of the table loses about a fifth of its true neighbours (the
index's nearest chunks are mostly other tenants'; docs/knowledge.md has the figures). A partial
index of the scope's chunks holds nothing the policy would remove, so its search is as good as
an index on a table of that scope alone. Small scopes need none: they are searched exactly.

Maintenance reads the scopes' sizes in a platform transaction and, as the tables' owner, builds
an index for each scope above `exact_search_max_chunks` and drops those of scopes that shrank
below half of it (or were deleted). Builds run `CONCURRENTLY`, so ingestion and search go on;
a build that failed leaves an invalid index, which the next run replaces.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tenantry.library.knowledge import KnowledgeSettings, knowledge_settings
from tenantry.workloads.knowledge import repository
from tenantry.workloads.knowledge.repository import maintenance as indexes

if TYPE_CHECKING:
    from tenantry.library import Maintenance

log = logging.getLogger("tenantry.workloads.knowledge")


async def maintain_scope_indexes(
    maintenance: Maintenance, settings: KnowledgeSettings | None = None
) -> dict[str, int]:
    settings = settings or knowledge_settings()
    threshold = settings.exact_search_max_chunks
    async with maintenance.database.platform_transaction() as tx:
        if await repository.embedding_dimensions(tx) is None:
            return {}  # no pgvector: no vector search to index
        kept = await indexes.scope_sizes(tx, threshold // 2)
    existing = await indexes.scope_indexes(maintenance.owner)
    wanted = {scope.index_name for scope in kept}
    dropped = 0
    for name, valid in existing.items():
        if name not in wanted or not valid:
            await indexes.drop_scope_index(maintenance.owner, name)
            dropped += 1
    built = 0
    for scope in sorted(kept, key=lambda s: -s.chunks):
        if scope.chunks > threshold and not existing.get(scope.index_name, False):
            log.info(
                "building a scope index",
                extra={"tenant_id": str(scope.tenant_id), "chunks": scope.chunks},
            )
            await indexes.build_scope_index(maintenance.owner, scope, settings.index_build_memory)
            built += 1
    return {"scope indexes built": built, "scope indexes dropped": dropped}
