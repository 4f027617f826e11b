"""Imports every module that registers due-work handlers (``@rooms.sweeper.on_due``)."""

from rooms import (
    retention,  # noqa: F401  retention deadlines (quality, recordings, attendance, audit)
    sweeper,  # noqa: F401  rooms: open, end, settle no-shows
)
