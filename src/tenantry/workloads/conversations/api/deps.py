"""What the routes declare: who may call them, and the transaction they run in.

- A user's own chats, meetings, preferences and memories: `Scope.PROFILE`, the scope every
  session and most API tokens of the app carry. The rows are then filtered by the caller's
  user id; row-level security keeps every statement in the caller's tenant and app.
- Personalities and widgets are set up for a whole app, so changing them takes the privilege
  `conversations.manage` on top of `Scope.PROFILE` (deny by default; the `owner` and `admin`
  role templates hold it, and a tenant administrator can give it to anyone with a role).
  Not `Scope.ADMIN`: that scope belongs to the admin app's credentials, whose context is the
  admin app, while personalities and widgets are rows of the app they serve (thinktank's are
  written in thinktank's context, by thinktank's managers).
"""

from typing import Annotated

from fastapi import Depends, Query

from tenantry.library import (
    Principal,
    RequiresPrivilege,
    Scope,
    Scoped,
    TenantTransaction,
)
from tenantry.workloads.conversations.caller import Caller

MANAGE = "conversations.manage"

# Reads run in READ ONLY transactions: they can be served by a replica, and cannot write.
Reads = Annotated[Scoped, TenantTransaction(Scope.PROFILE, read_only=True)]
Writes = Annotated[Scoped, TenantTransaction(Scope.PROFILE)]


async def _managing(
    _: Annotated[Principal, RequiresPrivilege(MANAGE, Scope.PROFILE)],
    scoped: Annotated[Scoped, TenantTransaction(Scope.PROFILE)],
) -> Scoped:
    # The privilege is checked first; the transaction is the library's own, which checks the
    # credential again with its first statement (a revoked session stops at once).
    return scoped


# As `TenantTransaction`, ended (committed) before the answer is sent.
Manages = Annotated[Scoped, Depends(_managing)]

Limit = Annotated[int, Query(ge=1, le=200, description="The most items in a page.")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_cursor` of the previous page; leave out for the first page.",
    ),
]


def caller(scoped: Scoped) -> Caller:
    return Caller.of(scoped.principal)
