"""The development server's clock for what it stamps on rooms, participants and their webhooks.

Real time plus an offset that tests advance (``POST /dev/clock``), so a scripted session "lasts" exactly
the minutes the script says without waiting for them. Token checks (nbf/exp, revocations) and the
room timers stay on real time: the offset only moves the timestamps LiveKit would report
(``created_at``, ``joined_at``, ``creation_time``).
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward (never back: LiveKit's timestamps do not go backwards)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset
