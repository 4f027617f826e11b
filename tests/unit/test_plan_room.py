"""Template choice and request overrides bounded by the template (no database: lookup injected)."""

import pytest
from pydantic import ValidationError

from rooms.errors import InvalidInput
from rooms.room.ids import room_id_for_booking, room_id_for_session
from rooms.room.models import CreateRoomRequest
from rooms.room.service import plan_room
from rooms.room.templates import BUILTIN_TEMPLATES, canonical_template_name


def lookup(name):
    return BUILTIN_TEMPLATES.get(canonical_template_name(name))


def plan(**body):
    return plan_room(CreateRoomRequest.model_validate(body), template_lookup=lookup)


def test_service_types_map_to_the_seed_configuration():
    therapy = plan(booking_id="b1", service_type="therapy")
    assert (therapy.template.name, therapy.room_type, therapy.max_participants, therapy.recording) == (
        "individual", "individual", 2, "none")
    yoga = plan(service_session_id="s1", service_type="yoga_class")
    assert (yoga.template.name, yoga.max_participants, yoga.recording, yoga.waiting_room) == (
        "workshop", 20, "optional", True)
    webinar = plan(service_session_id="s2", service_type="webinar")
    assert (webinar.template.name, webinar.room_type, webinar.max_participants, webinar.recording) == (
        "broadcast", "broadcast", 500, "automatic")
    assert webinar.template.attendee_role == "viewer"


def test_defaults_without_service_type():
    assert plan(booking_id="b1").template.name == "individual"
    assert plan(service_session_id="s1").template.name == "workshop"
    assert plan(service_session_id="s1", room_type="course").recording == "automatic"
    assert plan(service_session_id="s1", template="group").template.name == "workshop"


def test_max_participants_override_within_ceiling():
    assert plan(service_session_id="s1", room_type="workshop", max_participants=60).max_participants == 60
    with pytest.raises(InvalidInput) as err:
        plan(booking_id="b1", service_type="therapy", max_participants=3)
    assert err.value.field == "max_participants" and err.value.code == "max_participants_over_limit"


def test_unknown_template_and_service_type_name_the_field():
    with pytest.raises(InvalidInput) as err:
        plan(booking_id="b1", template="nope")
    assert err.value.field == "template"
    with pytest.raises(InvalidInput) as err:
        plan(booking_id="b1", service_type="karate")
    assert err.value.field == "service_type"
    # an unknown service type is fine when the room type says what to build
    assert plan(booking_id="b1", service_type="karate", room_type="workshop").template.name == "workshop"


def test_waiting_room_and_recording_overrides():
    p = plan(service_session_id="s1", room_type="workshop", waiting_room=False, recording="none")
    assert (p.waiting_room, p.recording) == (False, "none")


@pytest.mark.parametrize("body, fragment", [
    ({}, "exactly one of booking_id or service_session_id"),
    ({"booking_id": "b", "service_session_id": "s"}, "exactly one of booking_id or service_session_id"),
    ({"booking_id": "b", "max_participants": "lots"}, "max_participants"),
    ({"booking_id": "b", "recording": "sometimes"}, "recording"),
    ({"booking_id": "b", "surprise": 1}, "surprise"),
    ({"booking_id": "b", "scheduled_start": "2026-01-01T10:00:00"}, "timezone"),
    ({"booking_id": "b", "scheduled_start": "2026-01-01T10:00:00Z", "scheduled_end": "2026-01-01T09:00:00Z"},
     "scheduled_end must be after"),
    ({"booking_id": "has spaces"}, "booking_id"),
])
def test_bad_requests_are_rejected_naming_the_problem(body, fragment):
    with pytest.raises(ValidationError) as err:
        CreateRoomRequest.model_validate(body)
    assert fragment in str(err.value)


def test_room_ids_are_stable_per_booking_and_session_and_distinct():
    assert room_id_for_booking("42") == room_id_for_booking("42")
    assert room_id_for_booking("42") != room_id_for_session("42")
    assert room_id_for_booking("42") != room_id_for_booking("43")
