"""A join whose membership check failed (``attendance.webhooks._enforce_membership``): which
connections the webhook worker is told to remove. LiveKit's ``joined_at`` has whole seconds, so a
rejoin in the second its token was issued must still be decided right."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from rooms.attendance import webhooks as attendance_webhooks
from rooms.room.status import MemberStatus
from rooms.store.attendance import SegmentFacts

ISSUED = datetime(2026, 12, 2, 8, 27, 1, tzinfo=UTC)
SAME_SECOND = int(ISSUED.timestamp())


class _Ctx(SimpleNamespace):
    def defer(self, kind, **arguments):
        self.follow_up.append({"kind": kind, **arguments})


def _decide(monkeypatch, *, token_jti, joined_at=SAME_SECOND, jti="jti-old", issued=ISSUED):
    member = SimpleNamespace(status=MemberStatus.ACTIVE, revoked_at=None, admitted_at=None,
                             token_jti=token_jti, token_issued_at=issued.isoformat().replace("+00:00", "Z"))
    monkeypatch.setattr(attendance_webhooks.attendance_store, "get_member", lambda room_id, identity: member)
    ctx = _Ctx(room=SimpleNamespace(room_id="r1"), event_time=ISSUED, follow_up=[])
    facts = SegmentFacts(identity="cl-1", participant_sid="PA_2", joined_at=joined_at)
    attendance_webhooks._enforce_membership(ctx, facts, jti)
    return [w["kind"] for w in ctx.follow_up]


def test_a_rejoin_after_the_host_removed_them_is_removed_even_in_the_second_the_token_was_issued(monkeypatch):
    # forget_session dropped token_jti: no token was issued since the removal
    assert _decide(monkeypatch, token_jti=None) == ["remove_superseded"]
    assert _decide(monkeypatch, token_jti=None, joined_at=SAME_SECOND + 30) == ["remove_superseded"]


@pytest.mark.parametrize("joined_at, expected", [
    (SAME_SECOND + 5, ["remove_superseded"]),  # the new token existed when this connection started
    (SAME_SECOND, []),                          # a refresh while connected keeps the session
    (SAME_SECOND - 5, []),
])
def test_a_token_superseded_by_a_newer_one_is_removed_only_if_it_was_stale_when_it_joined(
        monkeypatch, joined_at, expected):
    assert _decide(monkeypatch, token_jti="jti-new", joined_at=joined_at) == expected

