"""A small demo knowledge base for thinktank in the demo tenants, acme and globex: a handful of
documents, chunked, embedded with the configured embedder and indexed through the service, so
`make up` leaves something to search. Idempotent: a document whose content an app already
holds is not stored again, so a second run adds nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantry.library import TenantContext
from tenantry.library.knowledge import knowledge_settings
from tenantry.library.tenants import find_tenant
from tenantry.workloads.knowledge.embedders import embedder_from
from tenantry.workloads.knowledge.models import Author
from tenantry.workloads.knowledge.service import KnowledgeService, NewDocument

if TYPE_CHECKING:
    from tenantry.library import Database

TENANTS = ("acme", "globex")
APP = "thinktank"

DOCUMENTS = (
    NewDocument(
        "Expense policy",
        "Expense reports are due on the fifth working day of each month. Attach a receipt for "
        "every item over ten dollars; card statements are not receipts.\n\n"
        "Meals with customers are reimbursed up to sixty dollars a person. Alcohol is not "
        "reimbursed. Taxis are fine after nine in the evening or with luggage.\n\n"
        "Reports are approved by your manager within five working days and paid with the next "
        "salary run.",
        source="handbook/expenses.md",
        metadata={"team": "finance"},
    ),
    NewDocument(
        "Travel booking",
        "Book trains, flights and hotels through the travel desk, at least two weeks ahead "
        "where you can. Trains are preferred for trips under four hours.\n\n"
        "Economy class is the rule for flights under six hours; above that, premium economy. "
        "Hotels are booked near the office you visit, within the city's rate cap.\n\n"
        "Travel insurance is arranged by the company; carry the card in your wallet.",
        source="handbook/travel.md",
        metadata={"team": "operations"},
    ),
    NewDocument(
        "Laptops and accounts",
        "Every new colleague gets a laptop on the first day, set up with disk encryption, the "
        "password manager and the company's single sign-on.\n\n"
        "A broken or lost laptop is replaced the same day at the help desk; report a lost one "
        "at once so that it can be locked remotely. Laptops are renewed every three years.\n\n"
        "Never share your password. Second factors are required for every company account.",
        source="handbook/it.md",
        metadata={"team": "it"},
    ),
    NewDocument(
        "Research notes: vector search under row-level security",
        "Approximate nearest-neighbour indexes such as HNSW return the nearest vectors of the "
        "whole table; row-level security then drops every row of other tenants. A small "
        "tenant's page can come back short, or with worse neighbours than exist.\n\n"
        "Searching small scopes exactly, and large ones through the index with iterative "
        "scans, keeps every tenant's results complete. The threshold between the two is a "
        "setting, chosen on measurements.",
        source="notes/vector-search.md",
        metadata={"team": "research"},
    ),
    NewDocument(
        "Meeting notes template",
        "Start with the date, who attended and the decision the meeting was called for.\n\n"
        "Write down each decision with its owner and a due date. Questions left open go at the "
        "end, each with the person who will answer it.\n\n"
        "Share the notes in the team channel on the same day.",
        source="templates/meeting-notes.md",
        metadata={"team": "all"},
    ),
)


async def seed_demo(db: Database) -> dict[str, int]:
    """The demo documents in thinktank of acme and globex (idempotent); counts added."""
    service = KnowledgeService()
    embedder = embedder_from(knowledge_settings())
    added = {"knowledge documents": 0, "knowledge chunks": 0}
    for slug in TENANTS:
        tenant = await find_tenant(db, slug)
        if tenant is None or APP not in tenant.apps:
            continue
        author = Author(tenant.id, tenant.apps[APP], None)
        async with db.tenant_transaction(TenantContext(tenant.id, tenant.apps[APP])) as tx:
            for new in DOCUMENTS:
                document, created = await service.add_document(tx, author, embedder, new)
                if created:
                    added["knowledge documents"] += 1
                    added["knowledge chunks"] += document.chunk_count
    return added
