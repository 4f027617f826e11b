"""The user index (which rooms hold a person's data) and the erasure of a person's items.

Items per user, not a GSI: ``USER#{user_id}`` / ``ROOM#{room_id}``, one per room the user was ever made
a member of. Every identity our rooms hold data for is a member's (join tokens are issued to members
only; a dial-out that joins as a person does so as a member), so the membership is the one place to
maintain it. Written before the room's creation transaction (a link without a membership is harmless:
erasure finds nothing there and drops it) and inside ``put_member``'s transaction (and a booking
event's ``store.booking.apply_member_event``'s, and ``keep_until_room_exists``'s when an attendee event is
kept for a room that does not exist yet); a Query of the user's partition gives their rooms,
strongly consistent, without an index to provision (no GSI: the table's only GSI is the sparse due
index). Links stay when a membership is revoked: the data stays too.

Erasure rewrites one room partition at a time: it reads every item of the room (one Query), deletes what
is only about the person, and pseudonymises what is evidence about others too (attendance, audit trail,
consent ledger, recordings' actors, the room's host and attendee fields).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, UnicodeAttribute

# room_items reads a whole room partition: every kind must be known to pynamodb (the store package loads
# its modules lazily).
from rooms.store import attendance, audit, booking, phone, recordings, retention, webhook_events  # noqa: F401
from rooms.store.rooms import room_pk
from rooms.store.table import TableItem, bind

USER_PREFIX = "USER#"


def user_pk(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


class UserRoomLink(TableItem, discriminator="user_room"):
    user_id = UnicodeAttribute()
    room_id = UnicodeAttribute()
    linked_at = UnicodeAttribute()

    @staticmethod
    def key(user_id: str, room_id: str) -> tuple[str, str]:
        return user_pk(user_id), room_pk(room_id)


class ErasureProof(TableItem, discriminator="erasure_proof"):
    """What an erasure did, signed; it names the person only by a keyed digest of their id."""

    erasure_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute()
    subject_digest = UnicodeAttribute()
    rooms = ListAttribute()
    sha256 = UnicodeAttribute()
    signature = MapAttribute()

    @staticmethod
    def key(erasure_id: str) -> tuple[str, str]:
        return f"ERASURE#{erasure_id}", "ERASURE"


def link(user_id: str, room_id: str, *, now: str) -> UserRoomLink:
    return UserRoomLink(*UserRoomLink.key(user_id, room_id), user_id=user_id, room_id=room_id, linked_at=now)


def write_links(links: Iterable[UserRoomLink]) -> None:
    """Put links on their own (idempotent: a link says only "look in this room")."""
    bind()
    with TableItem.batch_write() as batch:
        for item in links:
            batch.save(item)


def rooms_of(user_id: str) -> list[str]:
    bind()
    return [i.room_id for i in TableItem.query(user_pk(user_id), consistent_read=True) if isinstance(i, UserRoomLink)]


def delete_links(user_id: str, room_ids: Iterable[str]) -> None:
    bind()
    with TableItem.batch_write() as batch:
        for room_id in room_ids:
            batch.delete(UserRoomLink(*UserRoomLink.key(user_id, room_id)))


def room_items(room_id: str) -> list[TableItem]:
    """Every item of the room's partition (one Query, paged by DynamoDB)."""
    bind()
    return list(TableItem.query(room_pk(room_id), consistent_read=True))


def replace_value(raw: Any, old: str, new: str) -> tuple[Any, bool]:
    """``raw`` (DynamoDB's typed JSON of an item) with every string equal to ``old`` replaced by ``new``."""
    if isinstance(raw, dict):
        if set(raw) == {"S"}:
            return ({"S": new}, True) if raw["S"] == old else (raw, False)
        if set(raw) == {"SS"}:
            if old in raw["SS"]:
                return {"SS": sorted({new if v == old else v for v in raw["SS"]})}, True
            return raw, False
        changed = False
        out = {}
        for key, value in raw.items():
            out[key], hit = replace_value(value, old, new)
            changed = changed or hit
        return out, changed
    if isinstance(raw, list):
        pairs = [replace_value(v, old, new) for v in raw]
        return [v for v, _ in pairs], any(hit for _, hit in pairs)
    return raw, False


def rewrite_room(room_id: str, user_id: str, pseudonym: str, *,
                 delete_if: Callable[[TableItem], bool]) -> dict[str, dict[str, int]]:
    """Delete the person's own items (``delete_if``) and pseudonymise the rest of the room partition
    that names them (values equal to the id; keys that embed it move to the pseudonym's key).
    Returns counts per item kind: {"deleted": {...}, "pseudonymised": {...}}."""
    bind()
    deleted: dict[str, int] = {}
    pseudonymised: dict[str, int] = {}
    with TableItem.batch_write() as batch:
        for item in room_items(room_id):
            kind = type(item).__name__
            if delete_if(item):
                batch.delete(item)
                deleted[kind] = deleted.get(kind, 0) + 1
                continue
            raw = item.serialize()
            new_raw, hit = replace_value(raw, user_id, pseudonym)
            new_sk = item.sk.replace(f"#{user_id}#", f"#{pseudonym}#")
            if new_sk.endswith(f"#{user_id}"):
                new_sk = new_sk[: -len(user_id)] + pseudonym
            if not hit and new_sk == item.sk:
                continue
            rewritten = type(item).from_raw_data(new_raw)
            rewritten.pk, rewritten.sk = item.pk, new_sk
            if new_sk != item.sk:
                batch.delete(item)
            batch.save(rewritten)
            pseudonymised[kind] = pseudonymised.get(kind, 0) + 1
    return {"deleted": deleted, "pseudonymised": pseudonymised}


def save_proof(proof: ErasureProof) -> None:
    bind()
    proof.save(condition=ErasureProof.pk.does_not_exist())

