"""The GraphQL schema: Query and Mutation roots, error codes and the query depth limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from resolvers.access_log import AccessLog, AccessLogQuery
from resolvers.caching import CachedParsing, CachedValidation, ParsedDocuments, ValidationResults
from resolvers.ccps import CcpMutation, CcpQuery
from resolvers.context import Context
from resolvers.documents import DocumentPolicy, TrustedDocuments
from resolvers.epcis_subscriptions import KIND as _EPCIS_SUBSCRIPTIONS  # noqa: F401  (registers its event kind)
from resolvers.errors import ErrorCodes, is_expected
from resolvers.execution import PlainFieldsExecutionContext
from resolvers.exports import ExportQuery
from resolvers.finding import FindingQuery
from resolvers.haccp import ComplianceQuery, DeviationMutation, DeviationQuery, DeviationSubscription
from resolvers.imports import ImportMutation
from resolvers.inventory import InventoryMutation, InventoryQuery
from resolvers.limits import DocumentChecks, DocumentLimits
from resolvers.mock_recall import MockRecallMutation
from resolvers.mutation import Mutation
from resolvers.notifications import RecallSubscription, WebhookMutation, WebhookQuery
from resolvers.orders import OrderMutation, OrderQuery
from resolvers.query import Query
from resolvers.recall_activity import RecallActivitySubscription
from resolvers.recall_answers import RecallAnswerMutation
from resolvers.recall_proposal import RecallProposalMutation, RecallProposalQuery
from resolvers.sales import SalesMutation, SalesQuery
from resolvers.sharing import SharingMutation, SharingQuery
from resolvers.sharing_preview import SharingPreviewQuery


class DecidePerOperation(SchemaExtension):
    """A websocket's context lives as long as the connection: decide again for each operation on it, so a
    revoked grant or a closed recall counts from the next operation, as it does from the next HTTP request."""

    async def on_operation(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.websocket:
            await context.decide()
        yield


class ForgetKeptAfterWrites(SchemaExtension):
    """A mutation may change what decisions are made from (grants, recalls, members, firm roles) or a profile:
    once it has run, what this process keeps is dropped and the other hub processes are told (auth.changes), so
    the change counts from the next request (auth.decisions.DecisionCache, resolvers.loaders.ProfileCache)."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context):
            return
        try:
            reads_only = self.execution_context.operation_type is OperationType.QUERY
        except Exception:  # a document that did not parse ran nothing; forgetting is the safe side anyway
            reads_only = False
        if not reads_only:
            await context.announce_write()


class HubSchema(strawberry.Schema):
    """Logs only unexpected errors: a bad identifier or a refused request is the caller's, not a fault."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        unexpected = [error for error in errors if not is_expected(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(
    *,
    max_query_depth: int = 12,
    limits: DocumentLimits | None = None,
    cache_size: int = 256,
    documents: DocumentPolicy | None = None,
    introspection: bool = True,
    suggestions: bool = True,
) -> strawberry.Schema:
    """The hub's schema; its limits (resolvers/limits.py) keep one request from holding Neo4j for seconds."""
    limits = limits or DocumentLimits(depth=max_query_depth)
    checks = DocumentChecks(limits)
    parsed = ParsedDocuments(cache_size)
    validation_results = ValidationResults(cache_size)
    policy = documents or DocumentPolicy()
    return HubSchema(
        query=merge_types(
            "Query",
            (
                Query,
                SharingQuery,
                SharingPreviewQuery,
                AccessLogQuery,
                InventoryQuery,
                SalesQuery,
                OrderQuery,
                ExportQuery,
                WebhookQuery,
                CcpQuery,
                FindingQuery,
                DeviationQuery,
                ComplianceQuery,
                RecallProposalQuery,
            ),
        ),
        mutation=merge_types(
            "Mutation",
            (
                Mutation,
                SharingMutation,
                MockRecallMutation,
                RecallAnswerMutation,
                InventoryMutation,
                SalesMutation,
                OrderMutation,
                ImportMutation,
                WebhookMutation,
                CcpMutation,
                DeviationMutation,
                RecallProposalMutation,
            ),
        ),
        subscription=merge_types(
            "Subscription", (RecallSubscription, DeviationSubscription, RecallActivitySubscription)
        ),
        extensions=[
            # first: a refused text is refused before any other extension has started on it
            lambda: TrustedDocuments(policy),
            DecidePerOperation,
            ForgetKeptAfterWrites,
            lambda: ErrorCodes(suggestions=suggestions),
            AccessLog,
            # parsing and validation once per query text, within the limits (resolvers/caching.py)
            lambda: CachedParsing(parsed, max_tokens=limits.tokens),
            lambda: CachedValidation(validation_results, checks=checks),
            *([] if introspection else [DisableIntrospection]),
        ],
        execution_context_class=PlainFieldsExecutionContext,
    )
