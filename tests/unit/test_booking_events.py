"""Parsing the booking platform's events (no database): what is malformed and why, versions, samples."""

from __future__ import annotations

import json

import pytest

from rooms.lifecycle.booking_events import MalformedEvent, parse_event
from rooms.lifecycle.booking_models import INBOUND_DETAIL_TYPES, UpdateRoomRequest
from rooms.settings import Settings
from rooms_local.config import EVENTS_DIR

SETTINGS = Settings(booking_events_source="booking-platform")


def envelope(detail_type="Booking Cancelled", detail=None, **overrides) -> dict:
    event = {"version": "0", "id": "ev-1", "detail-type": detail_type, "source": "booking-platform",
             "account": "123456789012", "time": "2026-11-24T16:00:00Z", "region": "us-east-1", "resources": [],
             "detail": {"booking_id": "b-1"} if detail is None else detail}
    event.update(overrides)
    return event


def test_every_detail_type_has_a_sample_that_parses_to_its_shape():
    samples = {}
    for path in EVENTS_DIR.glob("*.json"):
        event = json.loads(path.read_text())
        if event.get("source") == "booking-platform":
            samples[event["detail-type"]] = parse_event(event, SETTINGS)
    assert set(samples) == set(INBOUND_DETAIL_TYPES)
    for detail_type, parsed in samples.items():
        assert type(parsed.detail) is INBOUND_DETAIL_TYPES[detail_type]


@pytest.mark.parametrize("overrides, field, fragment", [
    ({"source": "someone-else"}, "source", "source must be 'booking-platform'"),
    ({"detail-type": "Booking Paid"}, "detail-type", "unknown detail-type 'Booking Paid'"),
    ({"id": ""}, "id", "no id"),
    ({"time": "yesterday"}, "time", "ISO 8601"),
    ({"detail": "b-1"}, "detail", "JSON object"),
    ({"detail": {"booking_id": "has spaces"}}, "detail.booking_id", "pattern"),
    ({"detail-type": "Booking Rescheduled", "detail": {"booking_id": "b-1", "scheduled_start": "2026-11-24T16:00:00Z",
                                                       "scheduled_end": "2026-11-24T15:00:00Z"}},
     "detail", "scheduled_end must be after scheduled_start"),
    ({"detail-type": "Booking Confirmed", "detail": {"service_session_id": "s", "service_type": "therapy",
                                                     "host": {"user_id": "h"}}}, "detail", "booking_id is required"),
    ({"detail-type": "Session Scheduled", "detail": {"booking_id": "b", "service_type": "therapy",
                                                     "host": {"user_id": "h"}}},
     "detail", "service_session_id is required"),
    ({"detail-type": "Attendee Cancelled", "detail": {"service_session_id": "s"}}, "detail.user_id", "Field required"),
])
def test_malformed_events_say_why_and_where(overrides, field, fragment):
    with pytest.raises(MalformedEvent) as err:
        parse_event(envelope(**overrides), SETTINGS)
    assert err.value.field == field
    assert fragment in str(err.value) and str(err.value).startswith(field)


def test_versions_order_by_time_then_id_whatever_the_timestamp_format():
    early = parse_event(envelope(time="2026-11-24T16:00:00.900Z", id="zzz"), SETTINGS)
    late = parse_event(envelope(time="2026-11-24T16:00:01+00:00", id="aaa"), SETTINGS)
    same_second = parse_event(envelope(time="2026-11-24T16:00:01Z", id="bbb"), SETTINGS)
    assert early.version == "2026-11-24T16:00:00Z#zzz"
    assert early.version < late.version < same_second.version


def test_a_patch_needs_a_field_and_never_nulls_the_schedule():
    with pytest.raises(ValueError, match="at least one field"):
        UpdateRoomRequest.model_validate({})
    with pytest.raises(ValueError, match="scheduled_start cannot be null"):
        UpdateRoomRequest.model_validate({"scheduled_start": None})
    assert UpdateRoomRequest.model_validate({"title": None}).model_fields_set == {"title"}
