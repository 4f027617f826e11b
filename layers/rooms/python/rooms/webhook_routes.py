"""Imports every module that registers webhook handlers (``@rooms.webhooks.on``)."""

from rooms import (
    attendance,  # noqa: F401  participant_* / track_* (attendance)
    recording_events,  # noqa: F401  egress_started / egress_updated / egress_ended
    room_events,  # noqa: F401  room_started / room_finished
)
