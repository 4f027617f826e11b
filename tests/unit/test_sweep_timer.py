"""The local stand-in for the EventBridge schedule: a stoppable timer delivering the sample event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from rooms_local.schedules import SweepTimer, schedule_event


class FakeRunner:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.two = threading.Event()

    def invoke(self, name, event):
        self.events.append((name, event))
        if len(self.events) >= 2:
            self.two.set()
        return {"due": 0}


def test_timer_invokes_the_sweeper_with_schedule_events_until_stopped():
    runner = FakeRunner()
    frozen = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    timer = SweepTimer(runner, 0.02, clock=lambda: frozen).start()
    assert runner.two.wait(5)
    timer.stop()
    assert not timer.running
    seen = len(runner.events)
    time.sleep(0.1)
    assert len(runner.events) == seen  # stopped means stopped
    name, event = runner.events[0]
    assert name == "room_sweeper"
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["time"] == "2031-01-02T03:04:05Z"
    assert runner.events[0][1]["id"] != runner.events[1][1]["id"]


def test_schedule_event_keeps_the_sample_shape():
    event = schedule_event(datetime(2031, 1, 2, tzinfo=UTC))
    assert set(event) >= {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                          "detail"}
