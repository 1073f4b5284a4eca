"""Pagination and sorting shared by every list endpoint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cityops.core.errors import invalid
from cityops.core.i18n import text

T = TypeVar("T")
MAX_PAGE_SIZE = 500


class PageParams(BaseModel):
    page: int = Field(default=1, ge=1)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    sort: str | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


def order_by_sort(
    query: Select[Any], sort: str | None, columns: Mapping[str, Any], default: str
) -> Select[Any]:
    """Apply ``sort`` (comma-separated keys, ``-`` prefix for descending) from an allow-list."""
    keys = [key.strip() for key in (sort or default).split(",") if key.strip()]
    clauses = []
    for key in keys:
        name = key.lstrip("-")
        if name not in columns:
            allowed = ", ".join(sorted(columns))
            raise invalid(
                "sort",
                text(
                    "unknown sort key {name!r}; use one of: {allowed}", name=name, allowed=allowed
                ),
            )
        column = columns[name]
        clauses.append(column.desc() if key.startswith("-") else column.asc())
    return query.order_by(*clauses)


def contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, with LIKE's own wildcards taken literally
    (use with ``escape="\\"``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def paginate(session: Session, query: Select[Any], params: PageParams) -> tuple[Sequence[Any], int]:
    """Run ``query`` for one page and count all its rows."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.limit(params.page_size).offset(params.offset)).all()
    return rows, total
