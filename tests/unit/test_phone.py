"""Phone: the pure parts — number masking and formatting, PIN candidates, E.164 validation, dial-in block."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rooms.phone.masking import mask_phone_number
from rooms.phone.numbers import (
    dial_in_details,
    format_number,
    phone_identity,
    pin_candidates,
)
from rooms.room.models import DialOutRequest
from rooms.store import RoomItem


def test_masking_keeps_country_code_and_last_three_digits_only():
    assert mask_phone_number("+442079460789") == "+44*******789"
    assert mask_phone_number("+12025550143") == "+12******143"
    assert mask_phone_number("+123") == "+***"
    assert mask_phone_number("") == "" and mask_phone_number(None) == ""


@pytest.mark.parametrize(("number", "formatted"), [
    ("+12025550100", "+1 202-555-0100"),
    ("+442079460000", "+44 20 7946 0000"),
    ("+441614960000", "+44 1614 960000"),
    ("+61255500000", "+61 2 5550 0000"),
    ("+33123456789", "+33123456789"),
])
def test_numbers_are_formatted_for_people(number, formatted):
    assert format_number(number) == formatted


def test_pin_candidates_are_distinct_digits_of_the_configured_length():
    pins = pin_candidates(6)
    assert len(pins) == 20 == len(set(pins))
    assert all(len(p) == 6 and p.isdigit() for p in pins)
    assert sorted(pin_candidates(1)) == [str(d) for d in range(10)]  # a tiny space is tried exhaustively
    assert {len(p) for p in pin_candidates(3, attempts=1000)} == {3} and len(pin_candidates(3, attempts=1000)) == 1000


@pytest.mark.parametrize("good", ["+14155550123", "+44 20 7946 0000", "+61 (2) 5550-0000", " +12025550100 "])
def test_dial_out_accepts_e164_numbers_written_with_spaces_or_dashes(good):
    assert DialOutRequest(phone_number=good).phone_number.startswith("+")
    assert " " not in DialOutRequest(phone_number=good).phone_number


@pytest.mark.parametrize("bad", ["14155550123", "+0123456789", "+1415", "+1415555012345678", "tel:+14155550123",
                                 "", None, 14155550123])
def test_dial_out_refuses_anything_else_naming_phone_number(bad):
    with pytest.raises(ValidationError) as err:
        DialOutRequest(phone_number=bad)
    error = err.value.errors()[0]
    assert error["loc"] == ("phone_number",) and "E.164" in error["msg"]


def test_identity_of_a_dialled_number_is_stable_per_room_and_does_not_reveal_it():
    a = phone_identity("room-1", "+12025550143")
    assert a == phone_identity("room-1", "+12025550143") != phone_identity("room-2", "+12025550143")
    assert a.startswith("phone-") and "2025550143" not in a


def _room(status="scheduled", sip=None) -> RoomItem:
    return RoomItem("ROOM#r", "ROOM", room_id="r", status=status, sip=sip)


def test_dial_in_block_only_for_live_rooms_with_a_pin():
    sip = {"enabled": True, "region": "UK", "number": "+442079460000", "trunk_id": "ST_x", "pin": "012345"}
    details = dial_in_details(_room(sip=sip))
    assert details.pin == "012345" and details.numbers[0].formatted == "+44 20 7946 0000"
    assert details.instructions == "Call +44 20 7946 0000 and enter PIN 012345 followed by #."
    assert dial_in_details(_room(status="ended", sip=sip)) is None
    assert dial_in_details(_room(sip={"enabled": False, "region": "US"})) is None
    assert dial_in_details(_room()) is None


def test_the_shared_logger_masks_every_phone_number_in_a_record():
    """Whatever SIP_HIDE_PHONE_NUMBERS says: message, arguments and fields (nested too) of every record
    of the one logger production uses, as its own formatter writes them."""
    import logging

    from rooms.observability import logger

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(logger.registered_formatter.format(record))

    handler = Collect()
    logger.addHandler(handler)
    try:
        logger.info("call from %s", "+447700900123", extra={
            "target": "sip_+447700900123", "participant": {"attributes": {"sip.phoneNumber": "+12025550143"}},
            "numbers": ["+61291234567"], "at": "2026-01-01T10:00:00+00:00", "count": 3})
    finally:
        logger._logger.removeHandler(handler)
    (out,) = lines
    for full in ("+447700900123", "+12025550143", "+61291234567"):
        assert full not in out
    assert "call from +44*******123" in out and "sip_+44*******123" in out and "+12******143" in out
    assert "2026-01-01T10:00:00+00:00" in out  # not a phone number


@pytest.mark.parametrize(("sip_status_code", "livekit_code", "outcome"), [
    (486, "resource_exhausted", "busy"), (600, "unavailable", "busy"), (603, "unavailable", "busy"),
    (480, "resource_exhausted", "no_answer"), (408, "deadline_exceeded", "no_answer"),
    (None, "canceled", "no_answer"),  # livekit-sip cancels the INVITE when the ringing times out
    (404, "not_found", "failed"), (503, "unavailable", "failed"), (None, "resource_exhausted", "failed"),
])
def test_a_dial_out_that_did_not_connect_is_told_from_its_sip_status(sip_status_code, livekit_code, outcome):
    from rooms.phone.numbers import dial_out_outcome

    assert dial_out_outcome(sip_status_code, livekit_code) == outcome


def test_a_sip_participant_still_dialing_or_ringing_has_not_answered():
    from types import SimpleNamespace

    from rooms.phone.numbers import call_not_answered

    def sip(status=None, kind="sip"):
        return SimpleNamespace(kind=kind, attributes={} if status is None else {"sip.callStatus": status})

    assert call_not_answered(sip("dialing")) and call_not_answered(sip("ringing"))
    assert not call_not_answered(sip("active")) and not call_not_answered(sip("automation"))
    assert not call_not_answered(sip("hangup")) and not call_not_answered(sip())
    assert not call_not_answered(sip("ringing", kind="standard"))


def test_the_dial_out_event_samples_are_what_the_service_publishes():
    import json

    from rooms.phone.dial_out import FAILED_DETAIL_TYPE, REQUESTED_DETAIL_TYPE
    from rooms.room.models import DialOutResponse
    from rooms_local.config import EVENTS_DIR
    from rooms_local.event_bus import dial_out_event_pattern

    failed = json.loads((EVENTS_DIR / "dial_out_failed.json").read_text())
    assert (failed["source"], failed["detail-type"]) == ("rooms", FAILED_DETAIL_TYPE)
    assert DialOutResponse.model_validate(failed["detail"]).model_dump(mode="json") == failed["detail"]
    requested = json.loads((EVENTS_DIR / "dial_out_requested.json").read_text())
    assert requested["detail-type"] == REQUESTED_DETAIL_TYPE
    assert dial_out_event_pattern() == {"source": [requested["source"]], "detail-type": [REQUESTED_DETAIL_TYPE]}
    assert set(requested["detail"]) == {"room_id", "dial_out_id"}
