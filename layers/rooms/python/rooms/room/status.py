"""A room's status (and a membership's), and the questions the code asks of it (one vocabulary for every
module, the store's conditions included).

    scheduled ─(LiveKit room created)→ open ─(first participant joins)→ active ─→ ended
    scheduled ─(never opened by its end check)→ expired        (cancelled: set by the platform)

An open room whose LiveKit room finished before its scheduled end goes back to ``open`` (joinable).
"""

from __future__ import annotations

from enum import StrEnum


class RoomStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


# Not ended by anyone yet: may still be opened, joined, ended. The condition of every write that must
# not revive a room that ended meanwhile.
LIVE_STATUSES: tuple[RoomStatus, ...] = (RoomStatus.SCHEDULED, RoomStatus.OPEN, RoomStatus.ACTIVE)
# The LiveKit room has been opened: people may be in it now.
RUNNING_STATUSES: tuple[RoomStatus, ...] = (RoomStatus.OPEN, RoomStatus.ACTIVE)


def is_live(status: str | None) -> bool:
    return status in LIVE_STATUSES


def is_running(status: str | None) -> bool:
    return status in RUNNING_STATUSES


def is_over(status: str | None) -> bool:
    """Ended, expired or cancelled: nobody joins it again."""
    return not is_live(status)


class MemberStatus(StrEnum):
    """A membership: ``active`` (may get join tokens) until revoked (its tokens are revoked too)."""

    ACTIVE = "active"
    REVOKED = "revoked"
