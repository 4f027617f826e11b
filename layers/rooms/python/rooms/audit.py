"""The audit trail of a room: every action, with its actor, append-only.

Where an action has a write of its own, its entry rides in that write's transaction (the action and
its entry commit together or not at all): member granted / revoked (with the token revoked; a grant
by a booking-platform event too), token issued, participant joined / left (the webhook's transaction),
admitted, recording started, consent given / withdrawn (with the ledger entry), room ended, room
cancelled (``room.cancelled``, with the status write), room rescheduled (``room.rescheduled``, old and
new times) or its settings changed (``room.updated``), with the conditional write of the change.
``recording.url_issued`` is written before the URL is made: no URL without its entry. Best-effort
(the action is LiveKit's, with no write of ours to ride in; a failed entry is logged, the action
stands): muted / unmuted, removed, recording stopped, host messages, attendance closed by
reconciliation.

Entries expire ``AUDIT_RETENTION_DAYS`` after they happened (DynamoDB TTL, and the retention sweep);
under a legal hold they are written without a TTL and the hold strips the TTL of those written before.

Phone numbers never enter the trail in full: a caller's identity (``sip_+<number>``, when LiveKit does not
hide numbers) and any number in the details are masked here, at the one door every entry goes through
(``rooms.phone.masking``, the logs' masking), so the trail tells calls apart without holding a number to dial.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rooms.access import Caller, require_host_or_admin, require_room
from rooms.clock import iso
from rooms.observability import logger
from rooms.phone.masking import mask_phone_numbers
from rooms.settings import Settings
from rooms.store import audit as audit_store
from rooms.store.audit import AuditEntry

SYSTEM = "rooms"  # actor of what the service does by itself (reconciliation)
LIVEKIT = "livekit"  # actor of what LiveKit reports (joins, leaves)


class AuditEntryView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: str
    actor: str = Field(description="User id, 'livekit', 'sweeper' or 'rooms'")
    action: str = Field(description="e.g. member.granted, token.issued, participant.joined, recording.url_issued")
    target: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AuditView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    entries: list[AuditEntryView] = Field(description="Oldest first")


def entry(room, *, at: datetime | str, actor: str, action: str, target: str | None = None,
          details: dict | None = None, entry_id: str | None = None,
          settings: Settings) -> AuditEntry:
    """An entry for ``room`` (a RoomItem; its legal hold decides whether the entry gets a TTL)."""
    held = bool(getattr(room, "legal_hold", None))
    return audit_store.audit_entry(
        room.room_id, at=at if isinstance(at, str) else iso(at), actor=mask_phone_numbers(actor or SYSTEM),
        action=action, target=mask_phone_numbers(target), details=mask_phone_numbers(details), entry_id=entry_id,
        retention_days=None if held else settings.audit_retention_days,
    )


def record(room, *, at: datetime | str, actor: str, action: str, target: str | None = None,
           details: dict | None = None, entry_id: str | None = None, required: bool = False,
           settings: Settings) -> None:
    """Append one entry on its own. Best-effort unless ``required`` (then a failure propagates)."""
    item = entry(room, at=at, actor=actor, action=action, target=target, details=details, entry_id=entry_id,
                 settings=settings)
    try:
        audit_store.append(item)
    except Exception:
        if required:
            raise
        logger.exception("audit entry not written", extra={"room_id": room.room_id, "action": action,
                                                            "actor": actor, "target": target})


def entry_view(item: AuditEntry) -> AuditEntryView:
    return AuditEntryView(at=item.at, actor=item.actor, action=item.action, target=item.target,
                          details=item.details.as_dict() if item.details else {})


def read_audit(room_id: str, *, caller: Caller) -> AuditView:
    """The room's audit trail: its host, or the platform backend (admin scope)."""
    from rooms import store

    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_host_or_admin(caller, room, member)
    return AuditView(room_id=room_id, entries=[entry_view(e) for e in audit_store.list_audit(room_id)])
