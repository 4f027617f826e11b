"""The session's verdict for billing, and who did not show up (pure). THE attended rule, billable time and
billing bands are the attendance view's (``attendance.view``); this module judges the session by them,
under the room's evidence policy (copied from its template when the room was created, so a later
template change never re-judges a past session).

- ``billable_seconds``: connected time without the waiting-room part (the union of the segments,
  each from its admission, or its join when it did not wait, to its leave): a reconnect counts once.
- ``late_seconds``: the first connection after ``scheduled_start`` (0 when on time or unscheduled).
- ``attended``: THE attended rule (``attendance.view.attended``): at least ``attended_min_seconds`` billable (and
  more than none). No-shows use the same rule, plus the grace period: a party not connected by
  ``scheduled_start + no_show_grace_minutes`` is absent even if they come later.
- A substitute host (any member with role ``host``) counts as the host.
- The session's verdict: ``cancelled`` (cancelled, or ended before its start with nobody attending),
  ``no_show`` (with its kind: ``classify_no_show``), ``ended_early`` / ``overran`` (the attended
  session ended more than ``schedule_tolerance_minutes`` before / after ``scheduled_end``), else ``held``.
- The session's billable time is the time the host and at least one other attendee were both
  billable (for a 1-on-1: face-to-face time), and its band is picked by its whole minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rooms.attendance.view import EvidencePolicy, attended, billing_band, intersect, length, merge_intervals
from rooms.room.status import RoomStatus

Outcome = Literal["held", "no_show", "cancelled", "ended_early", "overran"]
Interval = tuple[int, int]
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


@dataclass(frozen=True)
class Party:
    """One identity's attendance as the verdict needs it."""

    identity: str
    role: str | None
    billable: list[Interval]
    first_joined: int | None

    @property
    def billable_seconds(self) -> int:
        return length(self.billable)


def present_for_no_show(party: Party, policy: EvidencePolicy, scheduled_start: int | None) -> bool:
    if not attended(party.billable_seconds, policy):
        return False
    if policy.no_show_grace_minutes is None or scheduled_start is None or party.first_joined is None:
        return True
    return party.first_joined <= scheduled_start + policy.no_show_grace_minutes * 60


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    no_show: NoShow | None
    attended: list[str]
    billable_seconds: int
    billing_band: str | None
    ended_at: int | None = None
    reasons: list[str] = field(default_factory=list)


def session_verdict(
    *,
    status: str,
    parties: Iterable[Party],
    policy: EvidencePolicy,
    host: str | None,
    members: Iterable[tuple[str, str]],
    is_booking: bool,
    scheduled_start: int | None,
    scheduled_end: int | None,
    ended_at: int | None,
) -> Verdict:
    """The verdict of a finished session. ``members``: (user_id, role) of the active members."""
    parties = list(parties)
    members = list(members)
    hosts = {uid for uid, role in members if role == "host"} | {p.identity for p in parties if p.role == "host"}
    came = sorted(p.identity for p in parties if attended(p.billable_seconds, policy))
    present = [p.identity for p in parties if present_for_no_show(p, policy, scheduled_start)]
    host_side = hosts | ({host} if host else set())
    host_time = merge_intervals(i for p in parties if p.identity in host_side for i in p.billable)
    guest_time = merge_intervals(i for p in parties if p.identity not in host_side and p.identity in came
                       for i in p.billable)
    together = intersect(host_time, guest_time) if host_side else guest_time
    billable = length(together)
    band = billing_band(billable, policy.billing_bands)
    session_end = together[-1][1] if together else None

    def verdict(outcome: Outcome, no_show: NoShow | None = None, *reasons: str) -> Verdict:
        return Verdict(outcome=outcome, no_show=no_show, attended=came, billable_seconds=billable,
                       billing_band=band if outcome not in ("cancelled", "no_show") else None,
                       ended_at=session_end, reasons=list(reasons))

    if status == RoomStatus.CANCELLED:
        return verdict("cancelled", None, "room cancelled")
    if not came and scheduled_start is not None and ended_at is not None and ended_at < scheduled_start:
        return verdict("cancelled", None, "ended before its scheduled start")
    no_show = classify_no_show(host=host, members=[uid for uid, _ in members], attendees=present,
                               is_booking=is_booking, substitutes=hosts)
    if no_show is not None:
        return verdict("no_show", no_show, no_show.kind)
    if scheduled_end is not None and session_end is not None:
        tolerance = policy.schedule_tolerance_minutes * 60
        if session_end < scheduled_end - tolerance:
            return verdict("ended_early", None, f"ended {(scheduled_end - session_end) // 60} min early")
        if session_end > scheduled_end + tolerance:
            return verdict("overran", None, f"overran by {(session_end - scheduled_end) // 60} min")
    return verdict("held")
