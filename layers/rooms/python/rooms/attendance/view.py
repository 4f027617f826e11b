"""The attendance view (pure): what billing reads, derived from the connection segments, and THE
attended rule (``attended``: billable time against the room's ``attended_min_seconds``) that billing,
no-shows and the session's verdict (``attendance.verdict``) all go by."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rooms import store
from rooms.attendance.models import (
    AttendanceEntry,
    AttendanceSegment,
    AttendanceView,
    MetricSummary,
    QualitySummary,
    SessionVerdict,
    TrackView,
    VerdictNoShow,
)
from rooms.clock import iso, parse_iso
from rooms.room.status import MemberStatus, RoomStatus, is_over
from rooms.room.templates import BillingBand, TemplateSettings


def ever_connected(segments: Iterable) -> bool:
    """LiveKit saw them connected to the room at least once: a connection with a join time (from their
    participant_joined, a participant_left that carries it, or ListParticipants listing them). Only
    people count (``people.is_person``: the webhooks and the reconciliation never write a segment for
    machinery). How long they stayed does not matter here (that is ``attended``)."""
    return any(seg.joined_at is not None for seg in segments)


def connected_identities(room) -> set[str]:
    """The identities ``ever_connected`` to ``room``, read from the room item alone: every write that
    gives a segment its join time adds the identity to the room's ``attendee_ids`` in the same
    transaction (``store.attendance``), so a reconnect is told without reading the segments."""
    return set(room.attendee_ids or ())


# --- THE attended rule, billable time, billing bands (the evidence policy is the room's) ------------------

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


def room_policy(room) -> EvidencePolicy:
    """The evidence policy the room was created under (rooms created before it existed: none)."""
    return EvidencePolicy.from_dict(room.evidence_policy.as_dict() if room.evidence_policy else None)


def attended(billable_seconds: int, policy: EvidencePolicy) -> bool:
    """THE attended rule: someone attended when their billable time (connected, the waiting room not
    counted, reconnects once) reached the template's ``attended_min_seconds``, and was more than none.
    Billing, no-shows and the verdict go by it; how many were connected (participant_count, reconnects)
    goes by ``ever_connected``."""
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



QUALITY_METRICS = ("packet_loss_pct", "jitter_ms", "rtt_ms")


def unix_seconds(value: datetime) -> int:
    return int(value.timestamp())


def iso_of_unix(value: int | float | None) -> str | None:
    return None if value is None else iso(datetime.fromtimestamp(int(value), tz=UTC))


# --- the attendance view (pure) ----------------------------------------------------------------------------


def _bounds(seg, *, now: int, cap: int | None) -> tuple[int, int] | None:
    if seg.joined_at is None:
        return None  # only its leave was seen and it carried no join time: nothing to count
    start = int(seg.joined_at)
    end = int(seg.left_at) if seg.left_at is not None else now
    if cap is not None:
        end = min(end, cap)
    return start, max(start, end)


def merge_intervals(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def peak_concurrency(per_identity: Iterable[list[tuple[int, int]]]) -> int:
    """Most identities connected at once (a leave and a join in the same second do not overlap)."""
    edges = []
    for intervals in per_identity:
        for start, end in intervals:
            if end > start:
                edges.append((start, 1))
                edges.append((end, -1))
    peak = current = 0
    for _, delta in sorted(edges):  # -1 sorts before +1 at the same second
        current += delta
        peak = max(peak, current)
    return peak


def _summary(values: list[float]) -> MetricSummary | None:
    if not values:
        return None
    return MetricSummary(min=min(values), avg=round(sum(values) / len(values), 3), max=max(values))


def quality_summary(samples: list) -> QualitySummary | None:
    if not samples:
        return None
    out: dict[str, MetricSummary | None] = {}
    for name in QUALITY_METRICS:
        out[name] = _summary([float(getattr(s, name)) for s in samples if getattr(s, name) is not None])
    return QualitySummary(samples=len(samples), **out)


def attendance_view(room, items: store.RoomAttendance, *, now: datetime,
                    members: list | None = None) -> AttendanceView:
    """Everything billing needs, derived from the segments (so any delivery order gives the same).
    With the room's ``members`` and once the room is over, the session's verdict too."""
    now_ts = unix_seconds(now)
    cap = unix_seconds(parse_iso(room.ended_at)) if room.status == RoomStatus.ENDED and room.ended_at else None
    by_identity: dict[str, list] = defaultdict(list)
    for seg in items.segments:
        by_identity[seg.identity].append(seg)
    tracks_by_identity: dict[str, list] = defaultdict(list)
    for track in items.tracks:
        tracks_by_identity[track.identity].append(track)
    quality_by_identity = {q.identity: list(q.samples or []) for q in items.quality}

    entries, merged_all, parties = [], [], []
    policy = room_policy(room)
    start_ts = unix_seconds(parse_iso(room.scheduled_start)) if room.scheduled_start else None
    first_join: int | None = None
    last_end: int | None = None
    anyone_open = False
    for identity in sorted(set(by_identity) | set(quality_by_identity)):
        segs = by_identity.get(identity, [])
        entry, merged = _entry(identity, segs, tracks_by_identity.get(identity, []),
                               quality_by_identity.get(identity, []), now=now_ts, cap=cap)
        billable = billable_intervals(segs, now=now_ts, cap=cap)
        entry.billable_seconds = length(billable)
        entry.late_seconds = late_seconds(merged[0][0] if merged else None, start_ts)
        entry.attended = attended(entry.billable_seconds, policy)
        entry.billing_band = billing_band(entry.billable_seconds, policy.billing_bands)
        parties.append((identity, entry.role, billable, merged[0][0] if merged else None))
        entries.append(entry)
        if ever_connected(segs):
            merged_all.append(merged)
            first_join = merged[0][0] if first_join is None else min(first_join, merged[0][0])
            last_end = merged[-1][1] if last_end is None else max(last_end, merged[-1][1])
        anyone_open = anyone_open or entry.connected
    entries.sort(key=lambda e: (e.first_joined_at or "~", e.identity))
    return AttendanceView(
        room_id=room.room_id,
        status=room.status,
        started_at=iso_of_unix(first_join),
        last_left_at=None if anyone_open else iso_of_unix(last_end),
        ended_at=room.ended_at,
        duration_seconds=(last_end - first_join) if first_join is not None and last_end is not None else 0,
        participant_count=len(merged_all),
        peak_concurrent=peak_concurrency(merged_all),
        participants=entries,
        scheduled_start=room.scheduled_start,
        scheduled_end=room.scheduled_end,
        verdict=_verdict(room, parties, policy, members) if members is not None and is_over(room.status) else None,
    )


def billable_intervals(segs: list, *, now: int, cap: int | None) -> list[tuple[int, int]]:
    """Each connection from its admission (a waiting-room connection) or its join, to its leave, merged."""
    out = []
    for seg in segs:
        bounds = _bounds(seg, now=now, cap=cap)
        if bounds is None:
            continue
        start, end = bounds
        if seg.waiting:
            if seg.admitted_at is None:
                continue  # waited the whole connection
            start = max(start, int(seg.admitted_at))
        out.append((start, end))
    return merge_intervals(out)


def _verdict(room, parties: list, policy: EvidencePolicy, members: list) -> SessionVerdict:
    from rooms.attendance import verdict as rules  # the verdict builds on this module's attended rule

    def ts(value: str | None) -> int | None:
        return unix_seconds(parse_iso(value)) if value else None

    v = rules.session_verdict(
        status=room.status, policy=policy, host=room.host_user_id, is_booking=bool(room.booking_id),
        parties=[rules.Party(identity=i, role=role, billable=b, first_joined=first) for i, role, b, first in parties],
        members=[(m.user_id, m.role) for m in members if m.status == MemberStatus.ACTIVE],
        scheduled_start=ts(room.scheduled_start), scheduled_end=ts(room.scheduled_end), ended_at=ts(room.ended_at),
    )
    return SessionVerdict(
        outcome=v.outcome, no_show=VerdictNoShow(**v.no_show.as_dict()) if v.no_show else None, attended=v.attended,
        billable_seconds=v.billable_seconds, billing_band=v.billing_band, session_ended_at=iso_of_unix(v.ended_at),
        reasons=v.reasons, policy=policy.as_dict(),
    )


def _entry(identity: str, segs: list, tracks: list, samples: list, *, now: int,
           cap: int | None) -> tuple[AttendanceEntry, list[tuple[int, int]]]:
    segments, intervals = [], []
    waiting_total = 0
    connected = False
    for seg in sorted(segs, key=lambda s: (s.joined_at is None, s.joined_at or 0, s.left_at is None,
                                           s.left_at or 0, s.participant_sid)):
        bounds = _bounds(seg, now=now, cap=cap)
        is_open = seg.left_at is None and seg.joined_at is not None and cap is None
        connected = connected or is_open
        seconds = waiting = 0
        if bounds:
            intervals.append(bounds)
            seconds = bounds[1] - bounds[0]
            if seg.waiting:
                until = min(int(seg.admitted_at), bounds[1]) if seg.admitted_at is not None else bounds[1]
                waiting = max(0, until - bounds[0])
        waiting_total += waiting
        segments.append(AttendanceSegment(
            joined_at=iso_of_unix(seg.joined_at),
            left_at=None if is_open else iso_of_unix(bounds[1] if bounds else seg.left_at),
            seconds=seconds, participant_sid=seg.participant_sid, via=seg.via or "video", waiting_seconds=waiting,
            left_reason=None if is_open else seg.left_reason,
        ))
    merged = merge_intervals(intervals)
    counted = [s for s in segments if s.joined_at is not None]
    sample = next((s for s in segs if s.role), None)
    named = next((s for s in segs if s.name), None)
    user = next((s for s in segs if s.user_id), None)
    published = sorted({t.source for t in tracks if t.source})
    entry = AttendanceEntry(
        identity=identity,
        user_id=user.user_id if user else identity,
        name=named.name if named else None,
        role=sample.role if sample else None,
        via="phone" if any(s.via == "phone" for s in segs) else "video",
        first_joined_at=iso_of_unix(merged[0][0]) if merged else None,
        last_left_at=None if connected or not merged else iso_of_unix(merged[-1][1]),
        total_seconds=sum(end - start for start, end in merged),
        waiting_seconds=waiting_total,
        reconnects=max(0, len(counted) - 1),
        connected=connected,
        segments=segments,
        published=published,
        tracks=[TrackView(track_sid=t.track_sid, participant_sid=t.participant_sid, type=t.track_type or "unknown",
                          source=t.source or "unknown", published_at=iso_of_unix(t.published_at),
                          unpublished_at=iso_of_unix(t.unpublished_at))
                for t in sorted(tracks, key=lambda t: (t.published_at or 0, t.track_sid))],
        quality=quality_summary(samples),
    )
    return entry, merged
