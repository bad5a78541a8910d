"""Trusted documents and Automatic Persisted Queries: which operation texts the hub runs.

A trusted document is an operation text registered by the cluster operator (``hub documents add``), kept in
the SQL store under the sha256 of its text. In production (HUB_TRUSTED_DOCUMENTS_ONLY) only those run: a
partner app sends the hash (Apollo's ``extensions.persistedQuery.sha256Hash``) or the text itself, and any
other text is refused with OPERATION_NOT_TRUSTED before it is parsed. In development Automatic Persisted
Queries (HUB_PERSISTED_QUERIES) let a client send a hash alone once the hub has seen its text; an unknown
hash answers PERSISTED_QUERY_NOT_FOUND, which tells Apollo's clients to send the text along.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread
from graphql import GraphQLError, OperationDefinitionNode, parse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, select
from strawberry.extensions import SchemaExtension

from graph_schema.errors import UNAVAILABLE

log = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND: Final = "PERSISTED_QUERY_NOT_FOUND"
OPERATION_NOT_TRUSTED: Final = "OPERATION_NOT_TRUSTED"
_KNOWN_HASHES_KEPT: Final = 10_000


class TrustedDocument(SQLModel, table=True):
    """An operation text the hub runs in production, by the sha256 of its text."""

    __tablename__ = "trusted_documents"

    sha256: str = Field(primary_key=True, max_length=64)
    document: str
    operation_names: str = Field(default="", max_length=2000)  # comma-separated, for `hub documents list`
    added_at: datetime


def document_hash(text: str) -> str:
    """The sha256 of an operation text, as Apollo's persisted queries name it (lower-case hex)."""
    return hashlib.sha256(text.encode()).hexdigest()


def operation_names(text: str) -> list[str]:
    """The names of a document's operations; a document that does not parse raises GraphQLError."""
    return [
        definition.name.value if definition.name else "(anonymous)"
        for definition in parse(text).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def add_documents(engine: Engine, texts: Iterable[str]) -> list[TrustedDocument]:
    """Registers operation texts (again is harmless); each must parse and hold an operation."""
    documents = []
    for text in texts:
        names = operation_names(text)
        if not names:
            raise GraphQLError("the document holds no operation (only fragments?)")
        documents.append(
            TrustedDocument(
                sha256=document_hash(text), document=text, operation_names=",".join(names), added_at=datetime.now(UTC)
            )
        )
    with Session(engine) as session:
        for document in documents:
            if session.get(TrustedDocument, document.sha256) is None:
                session.add(document)
        session.commit()
        for document in documents:
            session.refresh(document)
    return documents


def list_documents(engine: Engine) -> list[TrustedDocument]:
    """Every registered document, oldest first."""
    with Session(engine) as session:
        return list(session.exec(select(TrustedDocument).order_by(TrustedDocument.added_at)))  # type: ignore[arg-type]


def _find(engine: Engine, sha256: str) -> str | None:
    with Session(engine) as session:
        found = session.get(TrustedDocument, sha256)
        return None if found is None else found.document


@dataclass
class DocumentPolicy:
    """Which texts run: every text, or only registered ones; and whether hashes alone are remembered (APQ)."""

    trusted_only: bool = False
    persisted_queries: bool = True
    engine: Callable[[], Engine | None] = lambda: None  # the SQL store, once the app's lifespan has opened it
    apq_size: int = 1_000
    _seen: OrderedDict[str, str] = field(default_factory=OrderedDict)  # APQ: texts by hash, most recent last
    _trusted: OrderedDict[str, str] = field(default_factory=OrderedDict)  # registered texts found so far

    async def trusted_text(self, sha256: str) -> str | None:
        """A registered text by its hash (found once in the SQL store, then kept)."""
        text = self._trusted.get(sha256)
        engine = self.engine()
        if text is None and engine is not None:
            try:
                text = await anyio.to_thread.run_sync(_find, engine, sha256)
            except SQLAlchemyError:
                log.exception("could not read the trusted documents")
                raise _error("the registry of trusted operations cannot be read now; try again", UNAVAILABLE) from None
            if text is not None:
                self._trusted[sha256] = text
                while len(self._trusted) > _KNOWN_HASHES_KEPT:
                    self._trusted.popitem(last=False)
        return text

    def remember(self, sha256: str, text: str) -> None:
        """An APQ text, kept by its hash (the ``apq_size`` most recent)."""
        self._seen[sha256] = text
        self._seen.move_to_end(sha256)
        while len(self._seen) > self.apq_size:
            self._seen.popitem(last=False)

    async def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The text to run for a request, or a GraphQLError saying why none may."""
        persisted = (extensions or {}).get("persistedQuery")
        sha256: str | None = None
        if persisted is not None:
            given = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(given, str) or persisted.get("version", 1) != 1:
                raise _error(
                    "extensions.persistedQuery needs version 1 and a sha256Hash (64 hex digits)", "BAD_USER_INPUT"
                )
            sha256 = given.lower()
        if query is not None and sha256 is not None and document_hash(query) != sha256:
            raise _error("extensions.persistedQuery.sha256Hash is not the sha256 of the query", "BAD_USER_INPUT")
        if query is None and sha256 is not None:
            query = self._seen.get(sha256) if self.persisted_queries else None
            if query is None:
                query = await self.trusted_text(sha256)
            if query is None:
                raise _error(
                    "PersistedQueryNotFound: no operation with this hash; send the query text along with it"
                    if self.persisted_queries and not self.trusted_only
                    else "PersistedQueryNotFound: no registered operation has this hash (hub documents add)",
                    PERSISTED_QUERY_NOT_FOUND,
                )
            return query
        if query is None:
            return None
        if self.trusted_only:
            if await self.trusted_text(sha256 or document_hash(query)) is None:
                raise _error(
                    "this hub runs registered operations only, and this one is not: ask the cluster operator to"
                    " register it (hub documents add), then send it or its sha256 hash",
                    OPERATION_NOT_TRUSTED,
                )
        elif self.persisted_queries and sha256 is not None:
            self.remember(sha256, query)
        return query


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class TrustedDocuments(SchemaExtension):
    """Puts the text of a hashed request in place, and refuses texts the policy does not run."""

    def __init__(self, policy: DocumentPolicy) -> None:
        super().__init__()
        self.policy = policy

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context
        context.query = await self.policy.resolve(context.query, context.operation_extensions)
        yield
