"""Imports every module that registers due-work handlers (``@rooms.sweeper.on_due``)."""

from rooms import sweeper  # noqa: F401  rooms: open, end, settle no-shows
