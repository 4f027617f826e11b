"""Imports every module that registers webhook handlers (``@rooms.webhooks.on``)."""

from rooms import room_events  # noqa: F401  room_started / room_finished
