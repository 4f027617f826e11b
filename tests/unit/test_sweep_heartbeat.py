"""The sweeper heartbeat (infra: SampleCount of SweepDueItems, missing data breaching) needs a sample from
every completed sweep, an empty one included; failed due work is counted as SweepFailures (alarmed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from rooms import metric_names
from rooms.lifecycle import sweeper
from rooms.settings import get_settings

NOW = datetime(2031, 1, 2, 3, 4, tzinfo=UTC)


@dataclass
class DueThing:
    pk: str = "ROOM#r1"
    sk: str = "META"


@pytest.fixture
def emitted(monkeypatch) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []
    monkeypatch.setattr(sweeper.metrics, "add_metric", lambda name, unit, value, **_: seen.append((name, value)))
    return seen


def _due(monkeypatch, items: list) -> None:
    monkeypatch.setattr(sweeper.store, "due_items", lambda now, **_: iter(items))


def test_an_empty_sweep_still_beats(monkeypatch, emitted):
    _due(monkeypatch, [])
    assert sweeper.sweep(NOW, get_settings())["due"] == 0
    assert emitted == [(metric_names.SWEEP_DUE_ITEMS, 0)]


def test_failed_due_work_is_counted_and_the_sweep_still_beats(monkeypatch, emitted):
    def fails(item, now, settings):
        raise RuntimeError("LiveKit unreachable")

    monkeypatch.setitem(sweeper.DUE_HANDLERS, DueThing, fails)
    _due(monkeypatch, [DueThing(), DueThing(pk="ROOM#r2")])
    report = sweeper.sweep(NOW, get_settings())
    assert report["failed"] == 2
    assert emitted == [(metric_names.SWEEP_DUE_ITEMS, 2), (metric_names.SWEEP_FAILURES, 2)]
