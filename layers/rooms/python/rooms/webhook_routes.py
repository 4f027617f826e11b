"""Imports every module that registers webhook handlers (``@rooms.webhooks.on``)."""

from rooms import (
    attendance,  # noqa: F401  participant_* / track_* (attendance)
    room_events,  # noqa: F401  room_started / room_finished
)
