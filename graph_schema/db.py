"""A thin handle on the Neo4j driver: named Cypher in, records out, round trips counted."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Final, LiteralString, NoReturn, TypeVar

from neo4j import (
    READ_ACCESS,
    AsyncDriver,
    AsyncManagedTransaction,
    AsyncNeo4jDriver,
    AsyncTransaction,
    Query,
    Record,
    unit_of_work,
)
from neo4j.exceptions import Neo4jError, ServiceUnavailable, SessionExpired, TransientError

from graph_schema.errors import QUERY_TOO_COMPLEX, UNAVAILABLE, HubError

T = TypeVar("T")
Row = dict[str, Any]

NOT_ANSWERING: Final = "the graph database is not answering; try again shortly"
# How long past a request's deadline the hub still waits for Neo4j's own timeout error (which means the query
# was stopped inside Neo4j) before it gives up on the connection.
DEADLINE_GRACE_SECONDS: Final = 2.0


class GraphUnavailable(HubError):
    """Neo4j did not answer."""

    code = UNAVAILABLE


class GraphTimeout(HubError):
    """The request ran past its time limit; its transaction was stopped in Neo4j."""

    code = QUERY_TOO_COMPLEX


@dataclass(frozen=True)
class TransactionScope:
    """What the current request hands to each of its transactions: a deadline and metadata for Neo4j's logs."""

    deadline: float | None = None  # time.monotonic() by which the request must be done
    limit_seconds: float | None = None  # the request's whole allowance, for the error message
    metadata: Mapping[str, str] = field(default_factory=dict)

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None without one)."""
        return None if self.deadline is None else self.deadline - time.monotonic()


# The default is never changed in place (the dataclass is frozen and its metadata replaced, not updated).
_scope: ContextVar[TransactionScope] = ContextVar("graph_transaction_scope", default=TransactionScope())  # noqa: B039


@contextmanager
def transaction_scope(*, seconds: float | None = None, **metadata: str) -> Iterator[TransactionScope]:
    """Within the block, every transaction gets the deadline (``seconds`` from now) and the metadata (merged)."""
    outer = _scope.get()
    scope = replace(outer, metadata={**outer.metadata, **metadata})
    if seconds is not None:
        deadline = time.monotonic() + seconds
        if outer.deadline is None or deadline < outer.deadline:
            scope = replace(scope, deadline=deadline, limit_seconds=seconds)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> TransactionScope:
    """The scope of the request being served (an empty one outside requests)."""
    return _scope.get()


class Breaker:
    """Whether Neo4j answers, as a watchdog that probes it says: while it does not, graph calls fail at once and
    the calls waiting on it are let go, instead of each hanging for as long as Neo4j stays frozen."""

    def __init__(self) -> None:
        self.down_reason: str | None = None
        self._waiting: set[asyncio.Timeout] = set()

    @property
    def down(self) -> bool:
        """True while the last probe failed."""
        return self.down_reason is not None

    def trip(self, reason: str) -> None:
        """Mark Neo4j as not answering and release every call waiting on it (GraphUnavailable)."""
        self.down_reason = reason
        loop = asyncio.get_running_loop()
        for waiting in list(self._waiting):
            if not waiting.expired():
                waiting.reschedule(loop.time())

    def reset(self) -> None:
        """Neo4j answers again."""
        self.down_reason = None

    @asynccontextmanager
    async def guard(self) -> AsyncIterator[None]:
        """Bound a graph call by the request's deadline (plus grace) and by the watchdog's word."""
        if self.down:
            raise GraphUnavailable(NOT_ANSWERING)
        scope = _scope.get()
        remaining = scope.remaining()
        if remaining is not None and remaining <= 0:
            raise _timeout(scope)
        when = None if remaining is None else asyncio.get_running_loop().time() + remaining + DEADLINE_GRACE_SECONDS
        try:
            async with asyncio.timeout(when) as waiting:
                self._waiting.add(waiting)
                try:
                    yield
                finally:
                    self._waiting.discard(waiting)
        except TimeoutError as error:
            if self.down:
                raise GraphUnavailable(NOT_ANSWERING) from error
            raise GraphUnavailable(
                f"the graph database did not answer within the request's {scope.limit_seconds:g} s; try again shortly"
            ) from error
        except Neo4jError as error:  # a client error in 5.x, a transient one in older servers
            if "TransactionTimedOut" in (error.code or ""):
                raise _timeout(scope) from error
            raise


def _timeout(scope: TransactionScope) -> GraphTimeout:
    limit = f" of {scope.limit_seconds:g} s" if scope.limit_seconds is not None else ""
    return GraphTimeout(
        f"the request ran past its time limit{limit} and was stopped; ask for less (a smaller first, a shallower trace)"
    )


_breakers: weakref.WeakKeyDictionary[AsyncDriver, Breaker] = weakref.WeakKeyDictionary()


def breaker_for(driver: AsyncDriver) -> Breaker:
    """The one breaker of a driver (made on first use)."""
    breaker = _breakers.get(driver)
    if breaker is None:
        breaker = _breakers[driver] = Breaker()
    return breaker


def _transaction_options() -> dict[str, Any]:
    """The server-side timeout and metadata of a transaction started now, from the request's scope."""
    scope = _scope.get()
    remaining = scope.remaining()
    options: dict[str, Any] = {"metadata": dict(scope.metadata)} if scope.metadata else {}
    if remaining is not None:
        options["timeout"] = max(remaining, 0.001)
    return options


class Graph:
    """One caller's view of the graph database: every query goes through here, so each one is counted.

    Cheap to create: the hub makes one per request (the driver and its pool are shared), which lets tests
    count the round trips a GraphQL request costs.
    """

    def __init__(self, driver: AsyncDriver, *, database: str = "neo4j") -> None:
        self.driver = driver
        self.database = database
        self.round_trips = 0
        # In a cluster (neo4j://) reads follow the driver's bookmarks; one server (bolt://) shows every committed
        # write to the next transaction by itself, and the bookmark manager's lock and copies cost each read (about
        # 4% of the hub's CPU for a compiled read, profiled)
        self._bookmarks: dict[str, Any] = (
            {"bookmark_manager": driver.execute_query_bookmark_manager} if isinstance(driver, AsyncNeo4jDriver) else {}
        )

    async def _read_records(
        self, query: LiteralString, params: Mapping[str, Any] | None
    ) -> tuple[list[Record], tuple[str, ...]]:
        """One read query as an auto-commit transaction (routed to a reader in a cluster).

        A single read statement needs no explicit transaction: this sends RUN and PULL in one round trip, where a
        managed transaction (``execute_query``) adds BEGIN and a COMMIT round trip (0.85 -> 0.58 ms for a
        one-row lookup here). In a cluster reads follow the driver's bookmarks, as ``execute_query`` does, so a
        read sees the writes made before it there. A read failing because the server went away or a transient error is
        tried once more, as a managed transaction would be.
        """
        self.round_trips += 1
        async with breaker_for(self.driver).guard():
            for attempt in (1, 2):
                try:
                    async with self.driver.session(
                        database=self.database, default_access_mode=READ_ACCESS, **self._bookmarks
                    ) as session:
                        options = _transaction_options()
                        result = await session.run(Query(query, **options) if options else query, dict(params or {}))
                        records = [record async for record in result]
                        return records, tuple(result.keys())
                except (ServiceUnavailable, SessionExpired) as error:
                    if attempt == 2:
                        raise GraphUnavailable(NOT_ANSWERING) from error
                except TransientError as error:
                    if attempt == 2 or not error.is_retryable():
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def read(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one read query (routed to a reader in a cluster) and return its rows as dicts."""
        records, _ = await self._read_records(query, params)
        return [record.data() for record in records]

    async def read_maps(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Like ``read``, for a query whose columns hold only maps, lists and plain values (no nodes,
        relationships or paths): rows as the driver decoded them, without ``Record.data()``'s walk through every
        nested value, which costs a tenth of a 10,000-row trace."""
        records, keys = await self._read_records(query, params)
        return [dict(zip(keys, record, strict=True)) for record in records]

    async def write(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one write query in its own managed transaction and return its rows."""
        return await self.transaction(lambda tx: run(tx, query, params))

    async def transaction(self, work: Callable[[AsyncManagedTransaction], Awaitable[T]]) -> T:
        """Run ``work`` in one managed write transaction (retried on transient errors, rolled back on any error)."""
        self.round_trips += 1
        options = _transaction_options()
        try:
            async with breaker_for(self.driver).guard(), self.driver.session(database=self.database) as session:
                return await session.execute_write(unit_of_work(**options)(work) if options else work)
        except (ServiceUnavailable, SessionExpired) as error:
            raise GraphUnavailable(NOT_ANSWERING) from error

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncTransaction]:
        """One explicit write transaction spanning many batches (an EPCIS document): committed when the block
        ends, rolled back if it raises. Not retried: callers make the whole unit idempotent instead."""
        self.round_trips += 1
        try:
            async with breaker_for(self.driver).guard(), self.driver.session(database=self.database) as session:
                tx = await session.begin_transaction(**_transaction_options())
                try:
                    yield tx
                except BaseException:
                    await tx.rollback()
                    raise
                await tx.commit()
        except (ServiceUnavailable, SessionExpired) as error:
            raise GraphUnavailable(NOT_ANSWERING) from error

    async def schema(self, statement: LiteralString) -> None:
        """Run a schema command (constraints and indexes) in a transaction of its own."""
        self.round_trips += 1
        async with self.driver.session(database=self.database) as session:
            result = await session.run(statement)
            await result.consume()

    async def schema_together(self, statements: Sequence[LiteralString]) -> None:
        """Run schema commands in one transaction (no data write may join them): indexes created together are
        populated together, in one scan of each label's nodes."""
        self.round_trips += 1
        async with self.driver.session(database=self.database) as session:
            tx = await session.begin_transaction()
            try:
                for statement in statements:
                    await (await tx.run(statement)).consume()
            except BaseException:
                await tx.rollback()
                raise
            await tx.commit()


@dataclass(frozen=True)
class CheckedStep:
    """One check-then-write unit: ``check`` returns the rows at fault (none when the batch is good).

    ``reject`` raises a HubError describing one bad row; writes that must succeed or fail together (an EPCIS
    document, a spreadsheet import) run several steps in one transaction with ``checked_write_all``.
    """

    check: LiteralString
    write: LiteralString
    params: Mapping[str, Any]
    reject: Callable[[Row], NoReturn]

    async def run_in(self, tx: AsyncManagedTransaction | AsyncTransaction) -> list[Row]:
        """Check, raise on the first bad row, else write; inside the caller's transaction."""
        for bad in await run(tx, self.check, self.params):
            self.reject(bad)
        return await run(tx, self.write, self.params)

    async def problems_in(self, tx: AsyncManagedTransaction | AsyncTransaction) -> list[HubError]:
        """Every bad row of the check, each described as the HubError that ``reject`` raises for it."""
        return [error for _, error in await self.problems_by_row(tx)]

    async def problems_by_row(self, tx: AsyncManagedTransaction | AsyncTransaction) -> list[tuple[int, HubError]]:
        """Like ``problems_in``, with the index of the row at fault (the check's ``i``)."""
        problems: list[tuple[int, HubError]] = []
        for bad in await run(tx, self.check, self.params):
            try:
                self.reject(bad)
            except HubError as error:
                problems.append((int(bad["i"]), error))
        return problems


async def checked_write(
    graph: Graph,
    *,
    check: LiteralString,
    write: LiteralString,
    params: Mapping[str, Any],
    reject: Callable[[Row], NoReturn],
) -> list[Row]:
    """Run ``check``; ``reject`` raises on its first row; only when it returns nothing, run ``write``.

    Both run in one transaction, so a rejected batch writes nothing and nothing changes between the two.
    """
    return (await checked_write_all(graph, [CheckedStep(check=check, write=write, params=params, reject=reject)]))[0]


async def checked_write_all(graph: Graph, steps: Sequence[CheckedStep]) -> list[list[Row]]:
    """Run the steps in order in one transaction (later checks see earlier writes); any rejection writes nothing."""

    async def work(tx: AsyncManagedTransaction) -> list[list[Row]]:
        return [await step.run_in(tx) for step in steps]

    return await graph.transaction(work)


async def run(
    tx: AsyncManagedTransaction | AsyncTransaction, query: LiteralString, params: Mapping[str, Any] | None = None
) -> list[Row]:
    """Run one query inside a transaction and return its rows as dicts."""
    result = await tx.run(query, dict(params or {}))
    return [record.data() async for record in result]


def keyed(rows: list[Row], keys: Sequence[Any], *, key: str, value: str) -> list[Row | None]:
    """Put a batch query's rows back in the order of the keys that were asked for (None where absent)."""
    by_key = {row[key]: row[value] for row in rows}
    return [by_key.get(k) for k in keys]


def keyed_lists(rows: list[Row], keys: Sequence[Any], *, key: str, value: str) -> list[list[Row]]:
    """Like ``keyed`` for queries that collect a list per key (an empty list where absent)."""
    by_key = {row[key]: row[value] for row in rows}
    return [by_key.get(k) or [] for k in keys]
