"""`notes.notes` for teams that use SQLAlchemy's ORM (`tenantry.library.orm`)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tenantry.library import uuid7


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = {"schema": "notes"}  # noqa: RUF012 - SQLAlchemy's declarative form

    # The primary key is (tenant_id, id), as for every table the policy generator writes.
    tenant_id: Mapped[UUID] = mapped_column(primary_key=True)
    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid7)
    app_id: Mapped[UUID]
    author_id: Mapped[UUID]
    body: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime | None]
