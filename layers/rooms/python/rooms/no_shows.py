"""Who did not show up to a session: pure rules over the room's members and who ever connected.

A session is a no-show when nobody joined, when the host did not, or when nobody but the host did
(a booking's client, a session's attendees). A group session that the host and at least one attendee
joined is not a no-show, even if some attendees stayed away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

NoShowKind = Literal["nobody", "host_absent", "client_absent", "attendees_absent"]


@dataclass(frozen=True)
class NoShow:
    kind: NoShowKind
    host_absent: bool
    absent: list[str]  # members (host included) who never connected
    attendees: list[str]  # identities that did connect

    def as_dict(self) -> dict:
        return {"kind": self.kind, "host_absent": self.host_absent, "absent": self.absent,
                "attendees": self.attendees}


def classify_no_show(*, host: str | None, members: Iterable[str], attendees: Iterable[str],
                     is_booking: bool, substitutes: Iterable[str] = ()) -> NoShow | None:
    """The no-show of a finished session, or None when it took place. ``members`` are the user ids
    of the room's active members (host included); ``attendees`` those who count as present;
    ``substitutes`` other members with the host role: any of them present counts as the host."""
    present = set(attendees)
    hosts = ({host} if host else set()) | set(substitutes)
    expected = set(members) | ({host} if host else set())
    guests = expected - hosts
    absent = sorted(expected - present)
    host_absent = bool(hosts) and not (hosts & present)
    kind: NoShowKind | None
    if not present:
        kind = "nobody"
    elif host_absent:
        kind = "host_absent"
    elif guests and not (present - hosts):
        kind = "client_absent" if is_booking else "attendees_absent"
    else:
        kind = None
    if kind is None:
        return None
    return NoShow(kind=kind, host_absent=host_absent, absent=absent, attendees=sorted(present))
