"""EventBridge schedules, locally: the sample schedule event with a given time, and a timer thread that
delivers it to the sweeper every so often (as the CDK app's rule does every minute in AWS)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

from rooms_local.config import EVENTS_DIR

SWEEPER_FUNCTION = "room_sweeper"


def schedule_event(now: datetime) -> dict:
    """The sample ``events/schedule_sweep.json`` as EventBridge would deliver it at ``now``."""
    event = json.loads((EVENTS_DIR / "schedule_sweep.json").read_text())
    return {**event, "id": str(uuid.uuid4()), "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


class SweepTimer:
    """Invokes the sweeper with a schedule event every ``every`` seconds until stopped."""

    def __init__(self, runner, every: float, *, clock=lambda: datetime.now(UTC)) -> None:
        self._runner = runner
        self._every = every
        self._clock = clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep-timer", daemon=True)
        self.runs = 0
        self.last_result: object = None

    def start(self) -> SweepTimer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                self.last_result = self._runner.invoke(SWEEPER_FUNCTION, schedule_event(self._clock()))
            except Exception as err:  # a failed run is logged by the function; the next one retries
                self.last_result = err
            self.runs += 1
