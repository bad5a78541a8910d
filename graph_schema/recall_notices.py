"""Which consignees of a recall were told, from the webhook delivery log (graph_schema/notifications.py).

A firm counts as notified of a recall at the first delivery of the recall's RECALL_DECLARED event that one of its
webhooks acknowledged with a 2xx. Subscriptions (websockets) keep no log, so a firm told only through one does not
show as notified.
"""

from __future__ import annotations

import anyio
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from graph_schema.notifications import DeliveryStatus, EventKind, OutboxEvent, WebhookDelivery


def _notified(engine: Engine, recall_id: str) -> dict[str, int]:
    key = f"{EventKind.RECALL_DECLARED.value}:{recall_id}"
    with Session(engine) as session:
        query = (
            select(WebhookDelivery.firm_id, func.min(WebhookDelivery.delivered_at_ms))
            .join(OutboxEvent, col(OutboxEvent.id) == col(WebhookDelivery.event_id))
            .where(OutboxEvent.key == key, WebhookDelivery.status == DeliveryStatus.DELIVERED.value)
            .group_by(WebhookDelivery.firm_id)
        )
        return {firm: int(at) for firm, at in session.exec(query) if at is not None}


async def notified_firms(engine: Engine, *, recall_id: str) -> dict[str, int]:
    """Per firm told of the recall by webhook: when its first delivery was acknowledged (ms since the epoch)."""
    return await anyio.to_thread.run_sync(_notified, engine, recall_id)
