"""What the tests read from the table directly, beyond the service's own verbs."""

from __future__ import annotations


def pins_held(number: str) -> list:
    """Every PIN lock currently held on a number (one consistent Query of its partition)."""
    from rooms.store.phone import SipPinLock
    from rooms.store.table import bind

    bind()
    return list(SipPinLock.query(f"SIPPIN#{number}", consistent_read=True))
