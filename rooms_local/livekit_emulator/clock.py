"""The emulator's clock for what it stamps on rooms, participants and their webhooks.

Real time plus an offset that tests advance (``POST /dev/clock``), so a scripted session "lasts" exactly
the minutes the script says without waiting for them; frozen, it stands still between advances, so
the seconds a script asks for are exactly the seconds LiveKit reports. Token checks (nbf/exp, revocations) and the
room timers stay on real time: the offset only moves the timestamps LiveKit would report
(``created_at``, ``joined_at``, ``creation_time``).
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._frozen_at: float | None = None  # real time at which the clock was frozen
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return (self._frozen_at if self._frozen_at is not None else time.time()) + self._offset

    @property
    def frozen(self) -> bool:
        with self._lock:
            return self._frozen_at is not None

    def freeze(self, frozen: bool) -> None:
        """Stop the clock at the current whole second, or let it run on from where it stands."""
        with self._lock:
            real = time.time()
            if frozen and self._frozen_at is None:
                self._frozen_at = float(int(real))
            elif not frozen and self._frozen_at is not None:
                self._offset += self._frozen_at - real  # run on from the frozen reading, not from real time
                self._frozen_at = None

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
