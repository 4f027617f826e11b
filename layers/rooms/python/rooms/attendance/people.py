"""Who in a LiveKit room is a person: the one rule for attendance, recording consent and the host's list."""

from __future__ import annotations

from rooms.livekit_gateway.room_service import LiveParticipantInfo

# Participant kinds that are machinery: recordings, streamed-in media, AI agents.
MACHINE_KINDS = ("egress", "ingress", "agent")


def is_person(p: LiveParticipantInfo) -> bool:
    """Recorders, ingress, agents and hidden participants are machinery, not people: they are not
    attendance (counting them would bill nobody and hide a no-show), need no recording consent, and are
    not listed to the host."""
    return p.kind not in MACHINE_KINDS and not p.recorder and not p.hidden
