"""Verdicts for billing: who attended, for how long, in which billing band, and what the session was.

Pure rules over the attendance view's intervals and the room's evidence policy (copied from its
template when the room was created, so a later template change never re-judges a past session).

- ``billable_seconds``: connected time without the waiting-room part (the union of the segments,
  each from its admission, or its join when it did not wait, to its leave): a reconnect counts once.
- ``late_seconds``: the first connection after ``scheduled_start`` (0 when on time or unscheduled).
- ``attended``: THE attended rule (``is_attended``): at least ``attended_min_seconds`` billable (and
  more than none). No-shows use the same rule, plus the grace period: a party not connected by
  ``scheduled_start + no_show_grace_minutes`` is absent even if they come later.
- A substitute host (any member with role ``host``) counts as the host.
- The session's verdict: ``cancelled`` (cancelled, or ended before its start with nobody attending),
  ``no_show`` (with the kind of ``rooms.no_shows``), ``ended_early`` / ``overran`` (the attended
  session ended more than ``schedule_tolerance_minutes`` before / after ``scheduled_end``), else ``held``.
- The session's billable time is the time the host and at least one other attendee were both
  billable (for a 1-on-1: face-to-face time), and its band is picked by its whole minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rooms.no_shows import NoShow, classify_no_show
from rooms.templates import BillingBand, TemplateSettings

Outcome = Literal["held", "no_show", "cancelled", "ended_early", "overran"]
Interval = tuple[int, int]


@dataclass(frozen=True)
class EvidencePolicy:
    attended_min_seconds: int = 0
    no_show_grace_minutes: int | None = None
    schedule_tolerance_minutes: int = 5
    billing_bands: tuple[BillingBand, ...] = ()
    consent_text_version: str | None = None

    @classmethod
    def of_template(cls, template: TemplateSettings) -> EvidencePolicy:
        return cls(
            attended_min_seconds=template.attended_min_seconds,
            no_show_grace_minutes=template.no_show_grace_minutes,
            schedule_tolerance_minutes=template.schedule_tolerance_minutes,
            billing_bands=tuple(template.billing_bands),
            consent_text_version=template.consent_text_version,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> EvidencePolicy:
        if not data:
            return cls()
        return cls(
            attended_min_seconds=int(data.get("attended_min_seconds") or 0),
            no_show_grace_minutes=None if data.get("no_show_grace_minutes") is None
            else int(data["no_show_grace_minutes"]),
            schedule_tolerance_minutes=int(data.get("schedule_tolerance_minutes", 5)),
            billing_bands=tuple(BillingBand(**b) for b in data.get("billing_bands") or ()),
            consent_text_version=data.get("consent_text_version"),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "attended_min_seconds": self.attended_min_seconds,
            "no_show_grace_minutes": self.no_show_grace_minutes,
            "schedule_tolerance_minutes": self.schedule_tolerance_minutes,
            "billing_bands": [b.model_dump() for b in self.billing_bands],
            "consent_text_version": self.consent_text_version,
        }


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def length(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def is_attended(billable_seconds: int, policy: EvidencePolicy) -> bool:
    """THE attended rule: enough billable time (waiting-room time never counts)."""
    return billable_seconds > 0 and billable_seconds >= policy.attended_min_seconds


def late_seconds(first_joined: int | None, scheduled_start: int | None) -> int:
    if first_joined is None or scheduled_start is None:
        return 0
    return max(0, first_joined - scheduled_start)


def billing_band(billable_seconds: int, bands: Iterable[BillingBand]) -> str | None:
    minutes = billable_seconds // 60
    for band in bands:
        if band.min_minutes <= minutes and (band.max_minutes is None or minutes <= band.max_minutes):
            return band.name
    return None


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
    if not is_attended(party.billable_seconds, policy):
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
    attended = sorted(p.identity for p in parties if is_attended(p.billable_seconds, policy))
    present = [p.identity for p in parties if present_for_no_show(p, policy, scheduled_start)]
    host_side = hosts | ({host} if host else set())
    host_time = merge(i for p in parties if p.identity in host_side for i in p.billable)
    guest_time = merge(i for p in parties if p.identity not in host_side and p.identity in attended
                       for i in p.billable)
    together = intersect(host_time, guest_time) if host_side else guest_time
    billable = length(together)
    band = billing_band(billable, policy.billing_bands)
    session_end = together[-1][1] if together else None

    def verdict(outcome: Outcome, no_show: NoShow | None = None, *reasons: str) -> Verdict:
        return Verdict(outcome=outcome, no_show=no_show, attended=attended, billable_seconds=billable,
                       billing_band=band if outcome not in ("cancelled", "no_show") else None,
                       ended_at=session_end, reasons=list(reasons))

    if status == "cancelled":
        return verdict("cancelled", None, "room cancelled")
    if not attended and scheduled_start is not None and ended_at is not None and ended_at < scheduled_start:
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
