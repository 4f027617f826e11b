"""LiveKit-shaped resource ids: a type prefix and 12 random characters (RM_, PA_, TR_, EG_, ST_, SDR_…)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(12))
