"""Phone numbers never reach the logs in full: the masking the shared logger applies to every record
(``rooms.observability``), whatever ``SIP_HIDE_PHONE_NUMBERS`` says. A leaf module (no imports of ours):
the logger loads it at import time."""

from __future__ import annotations

import re

# E.164 anywhere in a string: "+" and 7 to 15 digits (LiveKit names callers ``sip_+<number>``).
_E164 = re.compile(r"\+\d{7,15}")


def mask_phone_number(number: str | None) -> str:
    """``+442079460789`` → ``+44*******789``: enough to tell calls apart in logs, not to dial."""
    if not number:
        return ""
    if len(number) < 7:
        return "+" + "*" * max(len(number) - 1, 0)
    return number[:3] + "*" * (len(number) - 6) + number[-3:]


def mask_phone_numbers(value: object) -> object:
    """``value`` with every E.164 number in it masked (strings, and the dicts, lists and tuples of a
    log record's fields); anything else unchanged."""
    if isinstance(value, str):
        return _E164.sub(lambda m: mask_phone_number(m.group()), value) if "+" in value else value
    if isinstance(value, dict):
        return {k: mask_phone_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_phone_numbers(v) for v in value)
    return value
