"""Page-number pagination shared by every list endpoint."""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

MAX_PAGE_SIZE = 100


class PageParams(BaseModel):
    page: int = Field(default=1, ge=1, le=100_000)
    page_size: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
    pages: int


def paginate(db: Session, stmt: Select[tuple[T]], params: PageParams) -> tuple[list[T], int]:
    """One page of ``stmt``'s rows and the total number of rows it would return."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.scalars(stmt.limit(params.page_size).offset((params.page - 1) * params.page_size))
    return list(rows.unique()), total


def page_of(items: list[T], total: int, params: PageParams) -> "Page[T]":
    """Wrap a page of already-converted items."""
    pages = (total + params.page_size - 1) // params.page_size
    return Page[T](items=items, total=total, page=params.page, page_size=params.page_size, pages=pages)
