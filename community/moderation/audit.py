"""Writing the audit trail. Rows are only ever added, in the transaction of the action."""

from __future__ import annotations

from typing import Any

from community.extensions import db
from community.moderation.models import AuditEvent


def record(
    action: str,
    *,
    actor_id: int | None,
    target_type: str,
    target_id: int | None,
    **data: Any,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )
    db.session.add(event)
    db.session.flush()
    return event
