"""The verdict rules (rooms.attendance.verdict) and the attendance view that applies them (pure, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rooms.attendance.verdict import Party, session_verdict
from rooms.attendance.view import EvidencePolicy, attendance_view, attended, billing_band
from rooms.clock import iso
from rooms.room.templates import BillingBand, TemplateSettings
from rooms.store import Member, RoomAttendance, RoomItem, SegmentItem

T0 = 1_900_000_000
US_PSYCHOTHERAPY = (BillingBand(name="90832", min_minutes=16, max_minutes=37),
                    BillingBand(name="90834", min_minutes=38, max_minutes=52),
                    BillingBand(name="90837", min_minutes=53))
POLICY = EvidencePolicy(attended_min_seconds=300, no_show_grace_minutes=15, billing_bands=US_PSYCHOTHERAPY)


def ts(value: int) -> str:
    return iso(datetime.fromtimestamp(value, UTC))


@pytest.mark.parametrize("minutes, band", [(15, None), (16, "90832"), (37, "90832"), (38, "90834"),
                                           (52, "90834"), (53, "90837"), (240, "90837")])
def test_billing_bands_by_whole_billable_minutes(minutes, band):
    assert billing_band(minutes * 60 + 59, US_PSYCHOTHERAPY) == band


def test_overlapping_bands_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        TemplateSettings(room_type="individual", max_participants=2, max_participants_limit=2,
                         billing_bands=[{"name": "a", "min_minutes": 16, "max_minutes": 40},
                                        {"name": "b", "min_minutes": 38}])


def test_the_attended_rule():
    assert not attended(299, POLICY) and attended(300, POLICY)
    assert not attended(0, EvidencePolicy())  # connected for no time at all is not attendance
    assert attended(1, EvidencePolicy())


def _verdict(parties, *, members=(("host", "host"), ("client", "participant")), status="ended",
             start=T0, end=T0 + 3000, ended_at=T0 + 3100, policy=POLICY):
    return session_verdict(status=status, parties=parties, policy=policy, host="host", members=members,
                           is_booking=True, scheduled_start=start, scheduled_end=end, ended_at=ended_at)


def party(identity, start, end, role="participant"):
    return Party(identity=identity, role=role, billable=[(start, end)], first_joined=start)


def test_held_session_is_billed_on_the_time_host_and_client_were_both_there():
    v = _verdict([party("host", T0 - 60, T0 + 3000, "host"), party("client", T0 + 60, T0 + 2950)])
    assert (v.outcome, v.billable_seconds, v.billing_band, v.attended) == ("held", 2890, "90834", ["client", "host"])


def test_a_short_appearance_is_a_no_show_by_the_attended_rule():
    v = _verdict([party("host", T0, T0 + 3000, "host"), party("client", T0 + 60, T0 + 299)])
    assert v.outcome == "no_show" and v.no_show.kind == "client_absent" and v.billing_band is None


def test_arriving_after_the_grace_period_is_a_no_show():
    v = _verdict([party("host", T0, T0 + 3000, "host"), party("client", T0 + 16 * 60, T0 + 3000)])
    assert v.outcome == "no_show" and v.no_show.kind == "client_absent"
    within = _verdict([party("host", T0, T0 + 3000, "host"), party("client", T0 + 15 * 60, T0 + 3000)])
    assert within.outcome == "held"


def test_a_substitute_host_counts_as_the_host():
    members = (("host", "host"), ("locum", "host"), ("client", "participant"))
    v = _verdict([party("locum", T0, T0 + 3000, "host"), party("client", T0, T0 + 3000)], members=members)
    assert v.outcome == "held" and v.billable_seconds == 3000
    nobody_hosting = _verdict([party("client", T0, T0 + 3000)], members=members)
    assert nobody_hosting.no_show.kind == "host_absent"


def test_ended_early_overran_and_cancelled():
    early = _verdict([party("host", T0, T0 + 2000, "host"), party("client", T0, T0 + 2000)])
    assert early.outcome == "ended_early" and early.billing_band == "90832"
    over = _verdict([party("host", T0, T0 + 3400, "host"), party("client", T0, T0 + 3400)])
    assert over.outcome == "overran"
    assert _verdict([], status="cancelled").outcome == "cancelled"
    assert _verdict([], ended_at=T0 - 600).outcome == "cancelled"  # ended before its start, nobody came
    assert _verdict([], ended_at=T0 + 3600).no_show.kind == "nobody"


def test_the_view_bills_connected_time_without_waiting_and_counts_a_reconnect_once():
    room = RoomItem(*RoomItem.key("r1"), room_id="r1", status="ended", scheduled_start=ts(T0),
                    scheduled_end=ts(T0 + 3000), ended_at=ts(T0 + 3100), host_user_id="host", booking_id="b1",
                    evidence_policy=POLICY.as_dict())
    segs = [
        SegmentItem(*SegmentItem.key("r1", "host", "PA_h"), room_id="r1", identity="host", participant_sid="PA_h",
                    role="host", joined_at=T0 - 60, left_at=T0 + 3000),
        # waits 5 min from 2 min late, admitted on this connection, drops after 10 more minutes ...
        SegmentItem(*SegmentItem.key("r1", "client", "PA_c1"), room_id="r1", identity="client",
                    participant_sid="PA_c1", role="participant", joined_at=T0 + 120, left_at=T0 + 1020,
                    waiting=True, admitted_at=T0 + 420),
        # ... and is back 30 s later (and an overlapping stale connection counts once)
        SegmentItem(*SegmentItem.key("r1", "client", "PA_c2"), room_id="r1", identity="client",
                    participant_sid="PA_c2", role="participant", joined_at=T0 + 1050, left_at=T0 + 2990),
        SegmentItem(*SegmentItem.key("r1", "client", "PA_c3"), room_id="r1", identity="client",
                    participant_sid="PA_c3", role="participant", joined_at=T0 + 1050, left_at=T0 + 1100),
    ]
    members = [Member(*Member.key("r1", u), room_id="r1", user_id=u, role=r, status="active", granted_at=ts(T0))
               for u, r in (("host", "host"), ("client", "participant"))]
    view = attendance_view(room, RoomAttendance(segments=segs), now=datetime.fromtimestamp(T0 + 4000, UTC),
                           members=members)
    client = next(p for p in view.participants if p.identity == "client")
    assert (client.total_seconds, client.waiting_seconds, client.billable_seconds) == (2840, 300, 2540)
    assert (client.late_seconds, client.attended, client.billing_band, client.reconnects) == (120, True, "90834", 2)
    assert view.verdict.outcome == "held" and view.verdict.billable_seconds == 2540
    assert view.verdict.policy["attended_min_seconds"] == 300
    assert attendance_view(room, RoomAttendance(segments=segs), now=datetime.now(UTC)).verdict is None
