"""Call me (issue #17) over HTTP on the local stack: in a room with ``sip.call_me`` a participant whose video
failed asks the room to call them; the call joins as them (attendance: one person, ``via: phone``). Another
member, a viewer, a room without the option, too many asks: refused. The emulator's callee answers unless the
number's last four digits say otherwise (0486: busy)."""

from __future__ import annotations

import pytest

from rooms_local.livekit_emulator import control
from tests.integration.test_phone import _attendance, _open, _outcome, _participants

CLIENT_PHONE = "+447700900456"


def _room(api, ids, *, call_me: bool = True, waiting_room: bool = False, **extra):
    body = {"service_session_id": ids["session"], "room_type": "workshop", "waiting_room": waiting_room,
            "host": {"user_id": ids["host"], "name": "Dr Who"},
            "members": [{"user_id": ids["client"], "name": "Clara"}, {"user_id": ids["other"], "name": "Rory"}],
            "sip": {"enabled": True, "region": "UK", "call_me": call_me}, **extra}
    r = api.admin("POST", "/rooms", json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def call_me_room(api, ids):
    return _room(api, ids)


def _ask(api, room, user, **body):
    return api.call("POST", f"/rooms/{room['room_id']}/dial-out", as_user=user, json=body)


def test_the_room_option_is_off_by_default_and_shown_to_the_browser(api, ids, call_me_room):
    assert call_me_room["dial_in"]["call_me"] is True
    plain = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]},
        "members": [{"user_id": ids["client"]}], "sip": {"enabled": True, "region": "UK"}})
    assert plain.status_code == 201, plain.text
    assert plain.json()["dial_in"]["call_me"] is False
    token = _open(api, call_me_room, ids["client"])
    assert token["dial_in"]["call_me"] is True  # the token response says so too (the phone fallback reads it)
    refused = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"] + "x", "service_type": "therapy", "host": {"user_id": ids["host"]},
        "sip": {"enabled": False, "call_me": True}})
    assert refused.status_code == 422 and refused.json()["field"].startswith("sip"), refused.text


def test_a_member_calls_themselves_and_attends_by_phone_as_themselves(api, stack, ids, call_me_room):
    host = _open(api, call_me_room, ids["host"])
    control.join(stack.config.livekit_url, host["token"], publish=["audio", "video"])
    r = _ask(api, call_me_room, ids["client"], phone_number="+44 7700 900456")  # user_id omitted: me
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["participant_identity"] == ids["client"] and accepted["user_id"] == ids["client"]
    assert accepted["requested_by"] == ids["client"] and accepted["phone_number"] == "+44*******456"
    done = _outcome(api, stack, call_me_room, ids["client"], accepted["dial_out_id"])  # the member follows it
    assert done["status"] == "answered" and done["answered_at"]
    joined = {p["identity"]: p for p in _participants(stack, call_me_room["livekit_room"])}
    assert joined[ids["client"]]["kind"] == "SIP"
    [segment] = _attendance(api, call_me_room)[ids["client"]]["segments"]
    assert segment["via"] == "phone"
    # the host sees it in the room's list; another member may not read it
    listed = api.call("GET", f"/rooms/{call_me_room['room_id']}/dial-outs", as_user=ids["host"]).json()
    assert [d["dial_out_id"] for d in listed["dial_outs"]] == [accepted["dial_out_id"]]
    other = api.call("GET", f"/rooms/{call_me_room['room_id']}/dial-outs/{accepted['dial_out_id']}",
                     as_user=ids["other"])
    assert other.status_code == 403 and other.json()["code"] == "dial_out_not_yours"


def test_a_member_reads_their_own_attempt_but_not_the_hosts(api, stack, ids, call_me_room):
    _open(api, call_me_room, ids["host"])
    mine = _ask(api, call_me_room, ids["client"], phone_number=CLIENT_PHONE, user_id=ids["client"])
    assert mine.status_code == 202, mine.text
    hosts = _ask(api, call_me_room, ids["host"], phone_number="+12025550142")
    assert hosts.status_code == 202, hosts.text
    base = f"/rooms/{call_me_room['room_id']}/dial-outs"
    own = api.call("GET", f"{base}/{mine.json()['dial_out_id']}", as_user=ids["client"])
    assert own.status_code == 200 and own.json()["dial_out_id"] == mine.json()["dial_out_id"]
    theirs = api.call("GET", f"{base}/{hosts.json()['dial_out_id']}", as_user=ids["client"])
    assert theirs.status_code == 403 and theirs.json()["code"] == "dial_out_not_yours"
    assert api.call("GET", base, as_user=ids["client"]).status_code == 403  # the list stays the host's
    for accepted in (mine.json(), hosts.json()):
        _outcome(api, stack, call_me_room, ids["host"], accepted["dial_out_id"])


def test_refusals_another_member_a_viewer_a_room_without_the_option(api, stack, ids, call_me_room):
    _open(api, call_me_room, ids["host"])
    other = _ask(api, call_me_room, ids["client"], phone_number=CLIENT_PHONE, user_id=ids["other"])
    assert other.status_code == 403 and other.json()["code"] == "call_me_self_only"
    stranger = _ask(api, call_me_room, ids["client"], phone_number=CLIENT_PHONE, user_id="nobody-here")
    assert stranger.status_code == 403 and stranger.json()["code"] == "call_me_self_only"
    bad = _ask(api, call_me_room, ids["client"], phone_number="07700 900456")
    assert bad.status_code == 422 and bad.json()["field"] == "phone_number"
    outsider = _ask(api, call_me_room, "not-a-member", phone_number=CLIENT_PHONE)
    assert outsider.status_code == 403 and outsider.json()["code"] == "not_a_member"

    viewer = api.admin("PUT", f"/rooms/{call_me_room['room_id']}/members/{ids['other']}", json={"role": "viewer"})
    assert viewer.status_code in (200, 201), viewer.text
    r = _ask(api, call_me_room, ids["other"], phone_number="+447700900457")
    assert r.status_code == 403 and r.json()["code"] == "call_me_not_allowed"

    ids2 = {**ids, "session": ids["session"] + "-b"}
    without = _room(api, ids2, call_me=False)
    r = _ask(api, without, ids["client"], phone_number=CLIENT_PHONE)
    assert r.status_code == 403 and r.json()["code"] == "call_me_not_allowed"
    assert _ask(api, without, ids["host"], phone_number=CLIENT_PHONE, user_id=ids["client"]).status_code == 202


def test_a_waiting_member_is_not_called_past_the_waiting_room(api, ids):
    room = _room(api, ids, waiting_room=True)
    _open(api, room, ids["host"])
    r = _ask(api, room, ids["client"], phone_number=CLIENT_PHONE)
    assert r.status_code == 403 and r.json()["code"] == "call_me_waiting"


def test_a_member_is_limited_per_window_besides_the_room_and_failed_calls_give_the_slot_back(
        api, stack, ids, call_me_room):
    from rooms.settings import get_settings

    limit = get_settings().sip_call_me_limit
    assert limit < get_settings().sip_dial_out_limit  # else the room's limit would answer first
    _open(api, call_me_room, ids["host"])
    busy = _ask(api, call_me_room, ids["client"], phone_number="+447700900486")
    assert busy.status_code == 202, busy.text
    assert _outcome(api, stack, call_me_room, ids["client"], busy.json()["dial_out_id"])["status"] == "busy"
    asks = [_ask(api, call_me_room, ids["client"], phone_number=f"+4477009{i:05d}") for i in range(limit + 1)]
    assert [r.status_code for r in asks] == [202] * limit + [429]
    assert asks[-1].json()["code"] == "dial_out_member_rate_limited"
    assert 0 < asks[-1].json()["retry_after_seconds"] <= get_settings().sip_dial_out_window_seconds
    # another member, and the host, still have the room's remaining slots
    assert _ask(api, call_me_room, ids["other"], phone_number="+447700900999").status_code == 202
    assert _ask(api, call_me_room, ids["host"], phone_number="+12025550142").status_code == 202
    for r in asks[:limit]:
        _outcome(api, stack, call_me_room, ids["client"], r.json()["dial_out_id"])


def test_patch_turns_call_me_on_and_off_live_and_refuses_it_without_phone(api, stack, ids, booking_room):
    room = _room(api, ids, call_me=False)
    _open(api, room, ids["host"])  # the LiveKit room is open: the option still changes (read per dial-out)
    assert _ask(api, room, ids["client"], phone_number=CLIENT_PHONE).json()["code"] == "call_me_not_allowed"
    url = f"/rooms/{room['room_id']}"
    on = api.admin("PATCH", url, json={"sip": {"call_me": True}})
    assert on.status_code == 200, on.text
    assert on.json()["dial_in"]["call_me"] is True and on.json()["dial_in"]["pin"] == room["dial_in"]["pin"]
    accepted = _ask(api, room, ids["client"], phone_number=CLIENT_PHONE)
    assert accepted.status_code == 202, accepted.text
    _outcome(api, stack, room, ids["client"], accepted.json()["dial_out_id"])
    off = api.admin("PATCH", url, json={"sip": {"call_me": False}})
    assert off.status_code == 200 and off.json()["dial_in"]["call_me"] is False
    assert _ask(api, room, ids["client"], phone_number=CLIENT_PHONE).json()["code"] == "call_me_not_allowed"
    assert api.admin("PATCH", url, json={"sip": None}).status_code == 422
    no_phone = api.admin("PATCH", f"/rooms/{booking_room['room_id']}", json={"sip": {"call_me": True}})
    assert no_phone.status_code == 422 and no_phone.json()["field"] == "sip.call_me", no_phone.text


def test_concurrent_asks_by_one_member_take_exactly_their_limit(api, stack, ids, call_me_room):
    from concurrent.futures import ThreadPoolExecutor

    from rooms.settings import get_settings

    limit = get_settings().sip_call_me_limit
    _open(api, call_me_room, ids["host"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda i: _ask(api, call_me_room, ids["client"], phone_number=f"+4477009{i:05d}"),
                                range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * limit + [429] * (6 - limit), [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 429} == {"dial_out_member_rate_limited"}
    for r in answers:
        if r.status_code == 202:
            _outcome(api, stack, call_me_room, ids["client"], r.json()["dial_out_id"])
