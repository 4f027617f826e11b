"""Erasure of a person's data across rooms (``DELETE /users/{user_id}/data``, admin; GDPR Art. 17).

For every room in the person's user index (``store.users``):
- deleted: their membership, join-token records, recording consent, quality samples and booking events
  kept for a room that does not exist yet (an attendee event about them; ``store.booking``) — about them only;
- pseudonymised: what is also evidence about others or the provider's own records — attendance segments
  and tracks (billing), audit entries and the consent ledger, recordings' starters, the room's host and
  attendee fields — the person's id becomes one random pseudonym (``erased-…``), the same in every room of
  this erasure and linked to nothing we keep (the name a segment carried is dropped with it);
- a room that does not exist (yet): the events kept for it that are about the person are deleted (the
  keeping linked them to it), reported ``missing``;
- a room under a legal hold is left as it is and reported ``held`` (its link stays, so erasing again
  after the hold's release finishes it);
- recordings the person may appear in are listed, not deleted: they hold other people's sessions too,
  and deleting one is the platform's decision (``DELETE /recordings/{id}`` removes every S3 version).

The proof of erasure (``ERASURE#{erasure_id}``) records when, by whom, which rooms and what was done,
names the person only by HMAC-SHA256(evidence key, user id) — the platform can show a proof is about a
given person, nobody reading the table can tell who — and is signed like the attendance export.
Each erased room's audit trail gets ``user.erased`` (target: the pseudonym).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime

from rooms import audit, metric_names, store
from rooms.access import Caller, require_admin
from rooms.clock import iso
from rooms.evidence.export import canonical_bytes, sign, signing_key
from rooms.evidence.models import ErasureReport, RoomErasure
from rooms.observability import logger, metrics
from rooms.settings import Settings
from rooms.store import users as user_index
from rooms.store.attendance import QualityItem
from rooms.store.booking import PendingBookingEvent
from rooms.store.recordings import RecordingConsent, RecordingItem
from rooms.store.rooms import JoinTokenRecord, Member


def _own_item(user_id: str):
    def delete_if(item) -> bool:
        if isinstance(item, Member | RecordingConsent):
            return item.user_id == user_id
        if isinstance(item, JoinTokenRecord):
            return item.identity == user_id
        if isinstance(item, QualityItem):
            return item.identity == user_id
        if isinstance(item, PendingBookingEvent):
            return item.subject_user_id == user_id
        return False

    return delete_if


def erase_user_data(user_id: str, *, caller: Caller, now: datetime,
                    settings: Settings) -> ErasureReport:
    require_admin(caller)
    key_id, key = signing_key(settings)
    erasure_id = uuid.uuid4().hex
    pseudonym = f"erased-{uuid.uuid4().hex[:12]}"
    results: list[RoomErasure] = []
    done: list[str] = []
    for room_id in sorted(user_index.rooms_of(user_id)):
        room = store.get_room(room_id, consistent=True)
        if room is None:  # no room (yet): what is kept for it (booking events about the person) goes
            counts = user_index.rewrite_room(room_id, user_id, pseudonym, delete_if=_own_item(user_id))
            results.append(RoomErasure(room_id=room_id, outcome="missing", **counts))
            done.append(room_id)
            continue
        if room.legal_hold:
            results.append(RoomErasure(room_id=room_id, outcome="held"))
            continue
        recordings = sorted(i.recording_id for i in user_index.room_items(room_id) if isinstance(i, RecordingItem))
        counts = user_index.rewrite_room(room_id, user_id, pseudonym, delete_if=_own_item(user_id))
        audit.record(room, at=now, actor=caller.user_id, action="user.erased", target=pseudonym,
                     details={"erasure_id": erasure_id}, required=True, settings=settings)
        results.append(RoomErasure(room_id=room_id, outcome="erased", recordings=recordings, **counts))
        done.append(room_id)
    user_index.delete_links(user_id, done)

    digest = hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    document = {"erasure_id": erasure_id, "at": iso(now), "actor": caller.user_id, "subject_digest": digest,
                "rooms": [r.model_dump(mode="json") for r in results]}
    signed = sign(document, key_id=key_id, key=key)
    assert signed.sha256 == hashlib.sha256(canonical_bytes(document)).hexdigest()
    user_index.save_proof(user_index.ErasureProof(
        *user_index.ErasureProof.key(erasure_id), erasure_id=erasure_id, at=iso(now), actor=caller.user_id,
        subject_digest=digest, rooms=document["rooms"], sha256=signed.sha256,
        signature=signed.signature.model_dump()))
    metrics.add_metric(name=metric_names.USER_ERASURES, unit="Count", value=1)
    logger.info("user data erased", extra={"action": "user.erase", "actor": caller.user_id,
                                           "erasure_id": erasure_id, "rooms": len(results),
                                           "held": sum(1 for r in results if r.outcome == "held")})
    return ErasureReport(erasure_id=erasure_id, at=iso(now), subject_digest=digest, rooms=results,
                         complete=all(r.outcome != "held" for r in results), sha256=signed.sha256,
                         signature=signed.signature)
