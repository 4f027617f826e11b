"""Room ids, derived from what a room belongs to.

So "the room of booking X" is a GetItem, and the conditional put of that one item is what guarantees
one room per booking / session occurrence.
"""

from __future__ import annotations

import uuid

# Room ids are derived from what they belong to, so "the room of booking X" is a GetItem and the
# conditional put of that one item is what guarantees one room per booking / session occurrence.
_ROOM_NAMESPACE = uuid.UUID("5b7c1f0e-7d0a-4c1e-9a53-6f1d2f8e9a10")


def room_id_for_booking(booking_id: str) -> str:
    return str(uuid.uuid5(_ROOM_NAMESPACE, f"booking:{booking_id}"))


def room_id_for_session(service_session_id: str) -> str:
    return str(uuid.uuid5(_ROOM_NAMESPACE, f"session:{service_session_id}"))
