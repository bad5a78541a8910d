"""The access log: after each operation, which other firms' records it returned, and the query to read it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlencode

import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from auth.audit import AccessLogFilter, count_access_log, read_access_log, record_access
from auth.principal import Role
from graph_schema.errors import UNAVAILABLE, Forbidden, HubError
from resolvers.context import Context, Info
from resolvers.permissions import AUTHENTICATED
from resolvers.types.connection import Connection, build_connection, check_page_size, decode_cursor
from resolvers.types.firm import Firm, load_firm

log = logging.getLogger(__name__)


ACCESS_LOG_WITHHELD: Final = "the access log could not be written, so no data was returned; try again shortly"


async def log_access(context: Context, operation: str) -> bool:
    """Write the access-log entries of an operation's answer; False when they could not be written, and the
    answer must then be withheld (fail closed: other firms' records leave only with a trace of who read them)."""
    if context.principal is None or not context.accessed:
        return True
    try:
        await record_access(
            context.sql_engine,
            accessor_firm_id=context.principal.firm_id,
            accessor_subject=context.principal.subject,
            accessor_issuer=context.principal.issuer,
            operation=operation,
            counts=context.accessed,
        )
    except Exception:
        log.exception("could not write the access log; the answer is withheld")
        return False
    return True


class AccessLog(SchemaExtension):
    """Writes an access-log entry per owner firm whose records the operation returned to another firm."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or context.principal is None or not context.accessed:
            return
        if not await log_access(context, self._operation()):
            result = self.execution_context.result
            if result is not None:  # mutated in place: the executor returns this object
                result.data = None
                result.errors = [GraphQLError(ACCESS_LOG_WITHHELD, extensions={"code": UNAVAILABLE})]

    def _operation(self) -> str:
        name = self.execution_context.operation_name
        document = self.execution_context.graphql_document
        roots: list[str] = []
        if document is not None:
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode) and (
                    name is None or (definition.name and definition.name.value == name)
                ):
                    roots.extend(sel.name.value for sel in definition.selection_set.selections if hasattr(sel, "name"))
        label = ",".join(roots) or "?"
        return f"{name}:{label}"[:200] if name else label[:200]


@strawberry.type(description="Another firm's principal read some of your firm's records")
class AccessLogEntry:
    id: strawberry.ID
    at: datetime
    accessor_firm_id: strawberry.ID
    accessor_subject: str
    operation: str
    record_count: int

    @strawberry.field
    async def accessor(self, info: Info) -> Firm | None:
        return await load_firm(info, str(self.accessor_firm_id))


MAX_OPERATION = 200
ACCESS_LOG_EXPORT_PATH = "/exports/access-log"


def access_log_filter(
    *, since: datetime | None, until: datetime | None, accessor_firm_id: str | None, operation: str | None
) -> AccessLogFilter:
    """The access log's filters, each checked (BAD_USER_INPUT naming the argument)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise HubError(f"{name} needs a time zone offset, e.g. 2030-01-01T00:00:00+09:00", field=name)
    if since is not None and until is not None and until <= since:
        raise HubError("until must be after since", field="until")
    if accessor_firm_id is not None and not 1 <= len(str(accessor_firm_id)) <= 100:
        raise HubError("accessorFirmId must be 1 to 100 characters", field="accessorFirmId")
    if operation is not None and not 1 <= len(operation) <= MAX_OPERATION:
        raise HubError(f"operation must be 1 to {MAX_OPERATION} characters", field="operation")
    return AccessLogFilter(
        since=since,
        until=until,
        accessor_firm_id=str(accessor_firm_id) if accessor_firm_id is not None else None,
        operation=operation,
    )


@strawberry.type
class AccessLogQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED, description="Who read your firm's data, newest first (admins and auditors)"
    )
    async def access_log(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        accessor_firm_id: strawberry.ID | None = None,
        operation: str | None = None,
    ) -> Connection[AccessLogEntry]:
        principal, _ = info.context.require_principal()
        if not principal.roles & {Role.ADMIN, Role.AUDITOR}:
            raise Forbidden("reading the access log needs the admin or auditor role")
        where = access_log_filter(since=since, until=until, accessor_firm_id=accessor_firm_id, operation=operation)
        check_page_size(first, info.context.max_page_size)
        cursor = decode_cursor("access", after)
        try:
            before = int(cursor) if cursor is not None else None
        except ValueError:
            raise HubError("cursor is not one this API gave out for this list", field="after") from None
        engine = info.context.sql_engine
        rows = await read_access_log(
            engine, owner_firm_id=principal.firm_id, before_id=before, limit=first + 1, where=where
        )
        entries = [
            AccessLogEntry(
                id=strawberry.ID(str(row.id)),
                at=row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                accessor_firm_id=strawberry.ID(row.accessor_firm_id),
                accessor_subject=row.accessor_subject,
                operation=row.operation,
                record_count=row.record_count,
            )
            for row in rows
        ]
        return build_connection(
            entries,
            kind="access",
            key=lambda e: str(e.id),
            first=first,
            after=after,
            count=lambda: count_access_log(engine, owner_firm_id=principal.firm_id, where=where),
        )

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Link (relative URL) to your firm's access log as CSV with these filters (admins and auditors); "
        "GET it with your bearer token",
    )
    def access_log_export(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        accessor_firm_id: strawberry.ID | None = None,
        operation: str | None = None,
    ) -> str:
        principal, _ = info.context.require_principal()
        if not principal.roles & {Role.ADMIN, Role.AUDITOR}:
            raise Forbidden("reading the access log needs the admin or auditor role")
        where = access_log_filter(since=since, until=until, accessor_firm_id=accessor_firm_id, operation=operation)
        params = {
            "since": where.since.isoformat() if where.since else None,
            "until": where.until.isoformat() if where.until else None,
            "accessorFirmId": where.accessor_firm_id,
            "operation": where.operation,
        }
        query = urlencode({key: value for key, value in params.items() if value is not None})
        return f"{ACCESS_LOG_EXPORT_PATH}?{query}" if query else ACCESS_LOG_EXPORT_PATH
