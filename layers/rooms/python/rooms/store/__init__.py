"""The single DynamoDB table: the only door to the database.

One table, keys ``pk``/``sk``; one sparse GSI ``gsi1`` (``gsi1pk``/``gsi1sk``); TTL attribute ``ttl``.
Uniqueness is always enforced by conditional writes or transactions, never by a read-then-write or a
GSI read; nothing here ever Scans.

| entity            | pk                 | sk                                  | gsi1pk / gsi1sk                     | serves |
|-------------------|--------------------|-------------------------------------|-------------------------------------|--------|
| Room              | ROOM#{room_id}     | ROOM                                | DUE#{yyyy-mm-dd} / {due_at}#{room}  | get room; booking/session lookup is a GetItem because room_id = uuid5(booking or session id); sweeper finds due rooms (keys present only while the room has time-driven work: open at start - lead → end at scheduled end + grace → settle no-shows after it ended → removed) |
| Member            | ROOM#{room_id}     | MEMBER#{user_id}                    | -                                   | room + caller's membership in one BatchGetItem; list members (Query begins_with MEMBER#) |
| JoinTokenRecord   | ROOM#{room_id}     | TOKEN#{user_id}#{issued_at}#{jti}   | -                                   | a member's token history (Query begins_with TOKEN#{user}#); TTL after expiry |
| TemplateOverride  | TEMPLATE           | {name}                              | -                                   | GET /templates (one Query); one GetItem when a room is created |
| WebhookEventItem  | EVENT#{event_id}   | EVENT                               | -                                   | at-least-once webhooks: the marker is written in the same transaction as the event's effects; TTL 7 days |
| SipPinLock        | SIPPIN#{number}    | PIN#{pin}                           | -                                   | a dial-in PIN unique among live rooms on one number: put with attribute_not_exists in the room's creation transaction, deleted when the room ends; pins held on a number (Query) |
| DialOutWindow     | ROOM#{room_id}     | DIALOUT#{window_start}[#USER#{u}]   | -                                   | dial-out rate limit per room: conditional ADD count < limit per fixed window; TTL after the window |
| DialOutItem       | ROOM#{room_id}     | DIALCALL#{dial_out_id}              | DUE#{day} / {stale_at}#dialout:{room}:{id} until it has an outcome | one dial-out attempt and its outcome (GET …/dial-outs/{id}; the room's list: Query begins_with DIALCALL#); status moves requested → dialing → answered/busy/no_answer/failed by conditional updates, so a redelivered request never dials twice; in the due index 5 min past its last step while it has no outcome (the sweeper settles one whose worker never finished); TTL with the room's attendance |
| SegmentItem       | ROOM#{room_id}     | ATTEND#{identity}#SEG#{participant_sid} | -                               | one connection of a participant (attendance for billing); the attendance view is one Query begins_with ATTEND# |
| TrackItem         | ROOM#{room_id}     | ATTEND#{identity}#TRACK#{track_sid} | -                                   | media tracking: who published audio / video / screen, when (same Query) |
| QualityItem       | ROOM#{room_id}     | ATTEND#{identity}#QUALITY           | -                                   | client-reported connection-quality samples of a member (same Query) |
| RecordingItem     | ROOM#{room_id}     | REC#{recording_id}                  | -                                   | a recording by id (recording_id = {room_id}.{hex}, so the id alone gives the key); a room's recordings (Query begins_with REC#) |
| ActiveRecording   | ROOM#{room_id}     | ACTIVE_RECORDING                    | -                                   | the room's recording slot: a host start claims it conditionally, so concurrent starts give one egress |
| RecordingConsent  | ROOM#{room_id}     | CONSENT#{user_id}                   | -                                   | consent to be recorded (Query begins_with CONSENT#) checked against connected participants |
| EgressLookup      | EGRESS#{egress_id} | EGRESS                              | -                                   | egress id → recording when the file path does not say; tombstone (TTL 30 days) after a delete so late egress webhooks are ignored |
| PendingBookingEvent | ROOM#{room_id}   | PENDING#{version}                   | -                                   | a booking-platform event that came before its room (Booking Rescheduled before Booking Confirmed): put only while the room does not exist (same transaction), applied oldest first and deleted when the room is created (Query begins_with PENDING#); TTL 90 days; an attendee event links its person (UserRoomLink) in the same transaction, so an erasure deletes it |
| BookingEventMarker | BEVENT#{event_id} | BEVENT                             | -                                   | at-least-once booking-platform events: written once the event's work is done, so a redelivery changes nothing; TTL 7 days |
| AuditEntry        | ROOM#{room_id}     | AUDIT#{at}#{write order}#{entry_id} | -                                   | the room's audit trail, oldest first (Query begins_with AUDIT#); put with attribute_not_exists (append-only), in the action's transaction where it has one; TTL AUDIT_RETENTION_DAYS (stripped under a legal hold); no person's id in the key, so an erasure pseudonymises it in place |
| ConsentLedgerEntry| ROOM#{room_id}     | CONSENTLOG#{at}#{write order}#{id}  | -                                   | consent given / withdrawn: who, text version, channel (Query begins_with CONSENTLOG#); written with the consent and its audit entry in one transaction |
| RetentionItem     | ROOM#{room_id}     | RETENTION                           | DUE#{day} / {due_at}#retention:{room} | per-kind retention deadlines of an ended room (quality, recordings, attendance, audit); in the due index at the earliest pending one, out of it while the room is under a legal hold |
| UserRoomLink      | USER#{user_id}     | ROOM#{room_id}                      | -                                   | the user index: the rooms holding a person's data (Query of the user's partition, strongly consistent; items per user, not a GSI); written before the room's creation transaction, inside put_member's and with a kept attendee event; read by DELETE /users/{user_id}/data |
| ErasureProof      | ERASURE#{erasure_id} | ERASURE                           | -                                   | what an erasure did, signed; names the person only by HMAC(evidence key, user_id) |

Any entity may join the due index: ``store.due`` reads it (one Query per day bucket, ``gsi1sk <= now``)
and claims items for one sweep at a time (``due_lease``/``due_lease_until`` on the item).

The item type is stored in ``kind`` (pynamodb discriminator), so one BatchGetItem or Query returns
typed items of several entities.
"""

import importlib
from typing import Any

# Loaded on first use (PEP 562): a function imports only the entities and verbs its routes touch (the
# token path needs rooms, members, tokens, audit and PINs, not recordings, retention, users or the due
# index; `make bench BENCH=cold_start`). A query that can return entities of other modules imports
# those modules itself (``due``, ``users``), so pynamodb knows every kind it may read.
SUBMODULES = ("attendance", "audit", "booking", "conditions", "due", "phone", "recordings", "retention", "rooms",
              "table", "users", "webhook_events")
EXPORTS = {
    "attendance": ("QualityItem", "RoomAttendance", "SegmentFacts", "SegmentItem", "TrackItem", "get_member",
        "get_room_attendance"),
    "conditions": ("STORE_ERRORS", "unavailable"),
    "due": ("Claim", "claim_due", "due_items", "finish_due", "release_due"),
    "phone": ("DialOutItem", "DialOutWindow", "PinTaken", "SipPinLock", "claim_dial_out", "create_dial_out",
        "get_dial_out", "get_room_and_members", "list_dial_outs", "move_pin",
        "new_pin_lock", "record_dial_out_answered", "record_dial_out_ended", "record_dial_out_failure",
        "record_dispatch_rule", "release_pin",
        "take_dial_out_slot", "take_member_dial_out_slots"),
    "recordings": ("ActiveRecording", "EgressLookup", "RecordingConsent", "RecordingItem"),
    "retention": ("RetentionItem",),
    "rooms": ("CLEANUP_END", "JoinTokenRecord", "Member", "RoomItem", "TemplateOverride", "cleanup_done",
        "cleanup_owed", "cleanup_participant", "create_room_with_members", "delete_template_override", "end_room",
        "get_room", "get_room_and_member", "get_template_override", "list_members", "list_template_overrides",
        "participant_cleanup", "put_member", "put_template_override", "record_issued_token", "revoke_member"),
    "table": ("TableItem", "bind", "create_table", "due_keys"),
    "webhook_events": ("DuplicateEvent", "StaleEvent", "WebhookEventItem", "applying_event"),
}
_HOME = {name: module for module, names in EXPORTS.items() for name in names}

__all__ = sorted([*_HOME, "audit", "booking", "recordings", "retention", "users"])


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    elif name in SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
