"""Relay cursor connections (edges, pageInfo, totalCount) over keyset pages."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from graph_schema.errors import HubError

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many records match in all (counted only when asked for)")
    async def total_count(self) -> int:
        return await self._count()


def encode_cursor(kind: str, key: str) -> str:
    """An opaque cursor for a record's sort key."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str | None) -> str | None:
    """The sort key inside a cursor of this kind, or BAD_USER_INPUT."""
    if cursor is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HubError(f"cursor {cursor!r} is not one this API gave out", field="after") from None
    prefix, _, key = decoded.partition(":")
    if prefix != kind or not key:
        raise HubError(f"cursor {cursor!r} is not one this API gave out for this list", field="after")
    return key


def check_page_size(first: int, maximum: int) -> None:
    """Page sizes run from 0 to the configured maximum."""
    if not 0 <= first <= maximum:
        raise HubError(f"first must lie between 0 and {maximum}, got {first}", field="first")


def build_connection(
    nodes: list[NodeT],
    *,
    kind: str,
    key: Callable[[NodeT], str],
    first: int,
    after: str | None,
    count: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    """A connection from one page fetched with ``first + 1`` rows (the extra row tells whether more follow)."""
    has_next = len(nodes) > first
    page = nodes[:first]
    edges = [Edge(cursor=encode_cursor(kind, key(node)), node=node) for node in page]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )
