"""Named EPCIS queries (the REST binding's /queries): a firm's saved SimpleEventQuery, kept in the SQL store.

A named query belongs to the firm that created it: only that firm's members list, read, run or delete it, and
another firm may use the same name for its own. Its parameters are checked when it is created, with the same
parser as GET /events, so a query that is stored can always be run; it runs with the caller's visibility at
the time it runs, never with the creator's. Query subscriptions are built on these.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import orjson
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from graph_schema.epcis.query import ParsedQuery, QueryError, parse_simple_event_query
from graph_schema.errors import Conflict, HubError

NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
MAX_PER_FIRM: Final = 200
MAX_PARAMETERS: Final = 100
# paging belongs to each run of the query, not to its definition
NOT_IN_DEFINITION: Final = frozenset({"nextPageToken", "perPage"})


class NamedQuery(SQLModel, table=True):
    """One saved query of one firm."""

    __tablename__ = "epcis_named_query"

    firm_id: str = Field(primary_key=True, max_length=100)
    name: str = Field(primary_key=True, max_length=100)
    query_json: str  # the query object as given (parameter name -> value or list of values)
    created_by: str = Field(max_length=300)
    created_at: datetime

    def document(self) -> dict[str, Any]:
        """The query as the REST binding shows a named query."""
        return {"name": self.name, "query": orjson.loads(self.query_json)}

    def items(self) -> list[tuple[str, str]]:
        """The query as query-string parameters."""
        return query_items(orjson.loads(self.query_json))

    def parsed(self, *, paging: list[tuple[str, str]] | None = None) -> ParsedQuery:
        """The query, parsed as GET /events would parse it (with this run's perPage and nextPageToken)."""
        return parse_simple_event_query([*self.items(), *(paging or [])])


class LimitReached(HubError):
    """The firm keeps as many named queries as it may."""

    code = "LIMIT_EXCEEDED"


def query_items(query: dict[str, Any]) -> list[tuple[str, str]]:
    """A query object of the REST binding (values: a text, a number, a list of them, or null for EXISTS_) as
    query-string parameters; QueryError naming the parameter for anything else."""
    items: list[tuple[str, str]] = []
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        if not values:
            raise QueryError(f"{name}: give at least one value", field=f"query.{name}")
        texts: list[str] = []
        for each in values:
            if each is None or (isinstance(each, bool) and name.startswith("EXISTS_")):
                texts.append("")
            elif isinstance(each, bool):
                texts.append("true" if each else "false")
            elif isinstance(each, str | int | float):
                texts.append(str(each))
            else:
                raise QueryError(f"{name}: a value must be a text, a number or a list of them", field=f"query.{name}")
        items.append((name, "|".join(texts)))
    return items


def validate_definition(body: object) -> tuple[str, dict[str, Any]]:
    """The name and query of a POST /queries body, checked; QueryError naming what is wrong."""
    if not isinstance(body, dict):
        raise QueryError('the body must be a JSON object {"name": ..., "query": {...}}', field="body")
    unknown = sorted(set(body) - {"name", "query", "@context"})
    if unknown:
        raise QueryError(f"{unknown[0]!r} is not part of a named query (name, query)", field=unknown[0])
    name = body.get("name")
    if not isinstance(name, str) or NAME.fullmatch(name) is None:
        raise QueryError(
            "name must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit", field="name"
        )
    query = body.get("query")
    if not isinstance(query, dict):
        raise QueryError("query must be a JSON object of SimpleEventQuery parameters", field="query")
    if len(query) > MAX_PARAMETERS:
        raise QueryError(f"a query may have at most {MAX_PARAMETERS} parameters", field="query")
    for key in query:
        if key in NOT_IN_DEFINITION:
            raise QueryError(f"{key} is given when the query runs, not in its definition", field=f"query.{key}")
    try:
        parse_simple_event_query(query_items(query))
    except QueryError as error:
        field = error.field if error.field and error.field.startswith("query.") else f"query.{error.field}"
        raise QueryError(error.message, field=field) from None
    return name, query


def _create(engine: Engine, row: NamedQuery) -> None:
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(NamedQuery).where(NamedQuery.firm_id == row.firm_id)
        ).one()
        if count >= MAX_PER_FIRM:
            raise LimitReached(
                f"your firm keeps {MAX_PER_FIRM} named queries, the most it may; delete one it no longer uses",
                field="name",
            )
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            raise Conflict(f"your firm already has a query named {row.name!r}", field="name") from None


def _list(engine: Engine, firm_id: str, after: str, limit: int) -> list[NamedQuery]:
    with Session(engine) as session:
        query = (
            select(NamedQuery)
            .where(NamedQuery.firm_id == firm_id, NamedQuery.name > after)
            .order_by(NamedQuery.name)
            .limit(limit)
        )
        return list(session.exec(query).all())


def _get(engine: Engine, firm_id: str, name: str) -> NamedQuery | None:
    with Session(engine) as session:
        return session.get(NamedQuery, (firm_id, name))


def _delete(engine: Engine, firm_id: str, name: str) -> bool:
    with Session(engine) as session:
        row = session.get(NamedQuery, (firm_id, name))
        if row is None:
            return False
        session.delete(row)
        session.commit()
        return True


async def create_named_query(
    engine: Engine, *, firm_id: str, subject: str, name: str, query: dict[str, Any]
) -> NamedQuery:
    """Store a checked query under the firm's name for it (Conflict when the name is taken)."""
    row = NamedQuery(
        firm_id=firm_id,
        name=name,
        query_json=orjson.dumps(query).decode(),
        created_by=subject,
        created_at=datetime.now(UTC),
    )
    await anyio.to_thread.run_sync(_create, engine, row)
    return row


async def list_named_queries(engine: Engine, *, firm_id: str, after: str = "", limit: int = 1000) -> list[NamedQuery]:
    """The firm's named queries by name, after ``after``."""
    return await anyio.to_thread.run_sync(_list, engine, firm_id, after, limit)


async def get_named_query(engine: Engine, *, firm_id: str, name: str) -> NamedQuery | None:
    """The firm's query of that name (another firm's queries are not disclosed)."""
    return await anyio.to_thread.run_sync(_get, engine, firm_id, name)


async def delete_named_query(engine: Engine, *, firm_id: str, name: str) -> bool:
    """Remove the firm's query of that name; False when there was none."""
    return await anyio.to_thread.run_sync(_delete, engine, firm_id, name)
