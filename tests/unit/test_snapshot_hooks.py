"""SnapStart (infra -c snapStart=true): restored copies must not share the `random` module's state."""

from __future__ import annotations

import random

from rooms import observability


class FakeRuntimeHooks:
    """The Lambda runtime's snapshot_restore_py interface (register_before_snapshot/after_restore)."""

    def __init__(self) -> None:
        self.after_restore: list = []

    def register_after_restore(self, func, *args, **kwargs) -> None:
        self.after_restore.append(func)


def test_random_is_reseeded_after_restore():
    hooks = FakeRuntimeHooks()
    assert observability.register_snapshot_hooks(hooks) is True
    assert hooks.after_restore == [random.seed]


def test_outside_lambda_there_is_nothing_to_register():
    assert observability.register_snapshot_hooks() is False  # no snapshot_restore_py here
