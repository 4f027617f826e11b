"""Every kind of work a webhook handler defers (``ctx.defer("kind", ...)``) has its follow-up in
``rooms.webhooks.FOLLOW_UPS``: otherwise the worker fails it until the dead-letter queue."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from rooms import webhooks

LAYER = Path(webhooks.__file__).parent


def _deferred_kinds() -> set[str]:
    kinds = set()
    for path in LAYER.rglob("*.py"):
        kinds |= set(re.findall(r"""\.defer\(\s*["']([a-z_]+)["']""", path.read_text()))
    return kinds


def test_every_deferred_kind_has_a_follow_up():
    kinds = _deferred_kinds()
    assert {"release_room", "publish_waiting", "remove_revoked", "check_egress_upload"} <= kinds
    assert kinds <= set(webhooks.FOLLOW_UPS), kinds - set(webhooks.FOLLOW_UPS)


def test_follow_ups_take_the_event_the_room_the_time_the_arguments_and_the_settings():
    for kind, follow_up in webhooks.FOLLOW_UPS.items():
        assert list(inspect.signature(follow_up).parameters) == ["event", "room", "received_at", "arguments",
                                                                "settings"], kind
