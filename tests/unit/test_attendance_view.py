"""The attendance view is derived from segments: pure arithmetic, checked here without a table."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.attendance.view import attendance_view, merge_intervals, peak_concurrency, quality_summary
from rooms.store import QualityItem, RoomAttendance, RoomItem, SegmentItem, TrackItem
from rooms.store.attendance import QualitySampleMap

T0 = 1_900_000_000


def _room(status: str = "active", ended_at: str | None = None) -> RoomItem:
    return RoomItem("ROOM#r", "ROOM", room_id="r", status=status, ended_at=ended_at)


def _seg(identity: str, sid: str, joined: int | None, left: int | None, **kw) -> SegmentItem:
    return SegmentItem("ROOM#r", f"ATTEND#{identity}#SEG#{sid}", room_id="r", identity=identity, participant_sid=sid,
                       joined_at=joined, left_at=left, **kw)


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_merge_and_peak():
    assert merge_intervals([(5, 10), (0, 3), (2, 4), (10, 12)]) == [(0, 4), (5, 12)]
    assert peak_concurrency([[(0, 10)], [(10, 20)]]) == 1  # a leave and a join in the same second
    assert peak_concurrency([[(0, 10)], [(5, 20)], [(6, 7)]]) == 3
    assert peak_concurrency([[(3, 3)]]) == 0


def test_reconnect_open_segment_waiting_and_phone():
    items = RoomAttendance(segments=[
        _seg("ann", "PA_2", T0 + 700, None, role="participant"),
        _seg("ann", "PA_1", T0, T0 + 600, role="participant", waiting=True, admitted_at=T0 + 45),
        _seg("sip_1", "PA_3", T0 + 100, T0 + 160, via="phone"),
        _seg("bob", "PA_4", None, T0 + 50),  # only a leave without join time: counts nothing
    ], tracks=[TrackItem("ROOM#r", "x", identity="ann", participant_sid="PA_1", track_sid="TR_1",
                         track_type="audio", source="microphone", published_at=T0 + 1)])
    view = attendance_view(_room(), items, now=_at(T0 + 1000))
    ann = next(p for p in view.participants if p.identity == "ann")
    assert (ann.total_seconds, ann.reconnects, ann.connected, ann.last_left_at) == (900, 1, True, None)
    assert ann.waiting_seconds == 45 and ann.published == ["microphone"]
    assert [s.seconds for s in ann.segments] == [600, 300] and ann.segments[1].left_at is None
    phone = next(p for p in view.participants if p.identity == "sip_1")
    assert (phone.via, phone.total_seconds) == ("phone", 60)
    bob = next(p for p in view.participants if p.identity == "bob")
    assert (bob.total_seconds, bob.reconnects, bob.first_joined_at) == (0, 0, None)
    assert (view.participant_count, view.peak_concurrent, view.duration_seconds) == (2, 2, 1000)
    assert view.last_left_at is None


def test_an_ended_room_caps_what_is_still_open():
    items = RoomAttendance(segments=[_seg("ann", "PA_1", T0, None), _seg("bob", "PA_2", T0 + 10, T0 + 5000)])
    view = attendance_view(_room("ended", "2030-03-17T18:46:40Z"), items, now=_at(T0 + 99999))  # T0 + 3600
    assert [p.total_seconds for p in view.participants] == [3600, 3590]
    assert not any(p.connected for p in view.participants) and view.duration_seconds == 3600


def test_overlapping_sessions_of_one_identity_are_counted_once():
    items = RoomAttendance(segments=[_seg("ann", "PA_1", T0, T0 + 100), _seg("ann", "PA_2", T0 + 90, T0 + 200)])
    (ann,) = attendance_view(_room(), items, now=_at(T0 + 300)).participants
    assert ann.total_seconds == 200 and ann.reconnects == 1


def test_quality_summary():
    q = QualityItem("ROOM#r", "x", identity="ann", samples=[
        QualitySampleMap(at="t", rtt_ms=80, packet_loss_pct=1), QualitySampleMap(at="t", rtt_ms=120)])
    summary = quality_summary(q.samples)
    assert summary.samples == 2 and (summary.rtt_ms.min, summary.rtt_ms.avg, summary.rtt_ms.max) == (80, 100, 120)
    assert summary.packet_loss_pct.avg == 1 and summary.jitter_ms is None
    assert quality_summary([]) is None


# No deadline: the first example also builds the view models' schemas (they are defer_build, built on first
# use); this test is about order, not speed.
@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), max_size=12), st.randoms())
def test_the_view_does_not_depend_on_the_order_segments_are_read(pairs, rnd):
    segs = [_seg(f"u{i % 3}", f"PA_{i}", min(a, b) + T0, max(a, b) + T0) for i, (a, b) in enumerate(pairs)]
    view = attendance_view(_room(), RoomAttendance(segments=segs), now=_at(T0 + 1000))
    shuffled = list(segs)
    rnd.shuffle(shuffled)
    assert attendance_view(_room(), RoomAttendance(segments=shuffled), now=_at(T0 + 1000)) == view
    for p in view.participants:  # union never exceeds the sum, and never undercounts the longest segment
        assert max((s.seconds for s in p.segments), default=0) <= p.total_seconds <= sum(s.seconds for s in p.segments)


def test_reconnect_bursts_count_reconnects_close_together():
    from types import SimpleNamespace

    from rooms.attendance.webhooks import RECONNECT_BURST_GAP_SECONDS, next_reconnect_burst

    room = SimpleNamespace(last_reconnect_at=None, reconnect_burst=None)
    assert next_reconnect_burst(room, 1000) == (1, 1000)
    room = SimpleNamespace(last_reconnect_at=1000, reconnect_burst=4)
    assert next_reconnect_burst(room, 1000 + RECONNECT_BURST_GAP_SECONDS) == (5, 1120)
    assert next_reconnect_burst(room, 1001 + RECONNECT_BURST_GAP_SECONDS) == (1, 1121)
