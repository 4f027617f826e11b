"""Phone: dial-in PIN locks (one per number + PIN among live rooms), dial-out rate-limit windows and
dial-out attempts (requested → dialing → answered | busy | no_answer | failed, each step conditional)."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from rooms.room.status import LIVE_STATUSES
from rooms.store.conditions import cancelled_by_condition, condition_failed
from rooms.store.rooms import Member, PinTaken, RoomItem, _retrying_conflicts, room_pk
from rooms.store.table import TableItem, bind, due_keys

__all__ = [
    "DialOutItem",
    "DialOutWindow",
    "PinTaken",
    "SipPinLock",
    "claim_dial_out",
    "create_dial_out",
    "get_dial_out",
    "get_room_and_members",
    "list_dial_outs",
    "move_pin",
    "new_pin_lock",
    "record_dial_out_answered",
    "record_dial_out_ended",
    "record_dial_out_failure",
    "record_dispatch_rule",
    "release_pin",
    "take_dial_out_slot",
    "take_member_dial_out_slots",
]


class SipPinLock(TableItem, discriminator="sip_pin"):
    """Held while its room is live: written with attribute_not_exists in the room's own creation
    transaction, deleted when the room ends. No TTL on purpose: a lock that vanished under a live room
    would let a second room take its PIN (and LiveKit would refuse that room's dispatch rule)."""

    number = UnicodeAttribute()
    pin = UnicodeAttribute()
    room_id = UnicodeAttribute()
    allocated_at = UnicodeAttribute()

    @staticmethod
    def key(number: str, pin: str) -> tuple[str, str]:
        return f"SIPPIN#{number}", f"PIN#{pin}"


class DialOutWindow(TableItem, discriminator="dial_out_window"):
    """How many dial-outs a room made in one fixed window (a conditional counter); with ``user_id``, how
    many calls that member asked for themselves ("call me") in it."""

    room_id = UnicodeAttribute()
    count = NumberAttribute(default=0)

    @staticmethod
    def key(room_id: str, window_start: str, user_id: str | None = None) -> tuple[str, str]:
        if user_id:
            return room_pk(room_id), f"DIALOUT#{window_start}#USER#{user_id}"
        return room_pk(room_id), f"DIALOUT#{window_start}"


class DialOutItem(TableItem, discriminator="dial_out"):
    """One dial-out attempt and what became of it. The full number is kept only until the call is
    placed (the worker needs it); afterwards only its masked form stays."""

    room_id = UnicodeAttribute()
    dial_out_id = UnicodeAttribute()
    status = UnicodeAttribute()  # requested | dialing | answered | busy | no_answer | failed
    requested_by = UnicodeAttribute()
    requested_at = UnicodeAttribute()
    window_start = UnicodeAttribute()  # the rate-limit window whose slot it took (given back on failure)
    slot_user_id = UnicodeAttribute(null=True)  # a member's own call ("call me"): it took their slot too
    identity = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    phone_number = UnicodeAttribute(null=True)
    phone_number_masked = UnicodeAttribute()
    participant_id = UnicodeAttribute(null=True)
    sip_call_id = UnicodeAttribute(null=True)
    sip_status_code = NumberAttribute(null=True)
    sip_status = UnicodeAttribute(null=True)
    livekit_code = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    dialing_at = UnicodeAttribute(null=True)
    answered_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)  # the outcome's time (answered, or the failure)
    ended_at = UnicodeAttribute(null=True)  # an answered call's hang-up (its participant_left)

    @staticmethod
    def key(room_id: str, dial_out_id: str) -> tuple[str, str]:
        return room_pk(room_id), f"DIALCALL#{dial_out_id}"


def _stale_keys(item: DialOutItem, stale_at: datetime) -> tuple[str, str]:
    return due_keys(stale_at, f"dialout:{item.room_id}:{item.dial_out_id}")


def create_dial_out(item: DialOutItem, *, stale_at: datetime) -> None:
    """Put a new attempt (its id is fresh: attribute_not_exists guards against a collision). It is in the
    due index at ``stale_at``, while it has no outcome: an attempt whose worker never finished (its event
    lost, a crash, a timeout) is settled by the sweeper then, and never stays ``requested`` or ``dialing``."""
    bind()
    item.gsi1pk, item.gsi1sk = _stale_keys(item, stale_at)
    try:
        item.save(condition=DialOutItem.pk.does_not_exist())
    except PutError as err:
        if condition_failed(err):
            raise RuntimeError(f"dial-out {item.dial_out_id} already exists") from err
        raise


def get_dial_out(room_id: str, dial_out_id: str) -> DialOutItem | None:
    bind()
    try:
        return DialOutItem.get(*DialOutItem.key(room_id, dial_out_id), consistent_read=True)
    except DialOutItem.DoesNotExist:
        return None


def list_dial_outs(room_id: str) -> list[DialOutItem]:
    """The room's dial-outs, oldest id first (one Query)."""
    bind()
    return list(DialOutItem.query(room_pk(room_id), DialOutItem.sk.startswith("DIALCALL#"), consistent_read=True))


def claim_dial_out(room_id: str, dial_out_id: str, *, now: str, stale_at: datetime) -> DialOutItem | None:
    """requested → dialing, once: the attempt to place, or None when it was already claimed (a
    redelivered request must never ring the phone twice). Due again at ``stale_at``, past the longest
    a worker can run: if it dies while the phone rings, the sweeper settles the attempt."""
    bind()
    item = DialOutItem(*DialOutItem.key(room_id, dial_out_id))
    item.room_id, item.dial_out_id = room_id, dial_out_id
    pk, sk = _stale_keys(item, stale_at)
    try:
        item.update(actions=[DialOutItem.status.set("dialing"), DialOutItem.dialing_at.set(now),
                             DialOutItem.gsi1pk.set(pk), DialOutItem.gsi1sk.set(sk)],
                    condition=(DialOutItem.status == "requested") & DialOutItem.due_lease.does_not_exist())
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return None
    return item


def _outcome_actions(status: str, at: str, **facts: str | int | None) -> list:
    # with its outcome the attempt leaves the due index (and a sweep's claim on it, if one was settling it)
    actions = [DialOutItem.status.set(status), DialOutItem.finished_at.set(at), DialOutItem.phone_number.remove(),
               DialOutItem.gsi1pk.remove(), DialOutItem.gsi1sk.remove(), DialOutItem.due_lease.remove(),
               DialOutItem.due_lease_until.remove()]
    if status == "answered":
        actions.append(DialOutItem.answered_at.set(at))
    for name, value in facts.items():
        if value is not None and value != "":
            actions.append(getattr(DialOutItem, name).set(value))
    return actions


_NOT_FINISHED = ("requested", "dialing")


def record_dial_out_answered(room_id: str, dial_out_id: str, *, at: str, participant_id: str | None = None,
                             sip_call_id: str | None = None) -> bool:
    """dialing → answered, once; the full number is dropped. False when an outcome was already recorded."""
    bind()
    item = DialOutItem(*DialOutItem.key(room_id, dial_out_id))
    try:
        item.update(actions=_outcome_actions("answered", at, participant_id=participant_id, sip_call_id=sip_call_id),
                    condition=DialOutItem.status.is_in(*_NOT_FINISHED))
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return False
    return True


def record_dial_out_failure(item: DialOutItem, *, status: str, at: str, sip_status_code: int | None = None,
                            sip_status: str | None = None, livekit_code: str | None = None,
                            error: str | None = None) -> bool:
    """A call that did not connect: its outcome (the full number dropped) and its rate-limit slots given
    back (the room's, and for a member's "call me" their own) in one transaction, so a worker that dies
    in between cannot keep a slot taken: its redelivery finds the outcome recorded and does nothing.
    A window that is already gone, or at zero, has nothing to give back; the transaction is written
    again without it. False when an outcome was already recorded."""
    bind()
    call = DialOutItem(*DialOutItem.key(item.room_id, item.dial_out_id))
    actions = _outcome_actions(status, at, sip_status_code=sip_status_code, sip_status=sip_status,
                               livekit_code=livekit_code, error=error)
    windows = [DialOutWindow(*DialOutWindow.key(item.room_id, item.window_start))]
    if item.slot_user_id:
        windows.append(DialOutWindow(*DialOutWindow.key(item.room_id, item.window_start, item.slot_user_id)))
    for _ in range(len(windows) + 1):
        def attempt(slots: list[DialOutWindow] = windows) -> None:
            with TransactWrite(connection=DialOutItem._get_connection().connection) as tx:
                tx.update(call, actions=actions, condition=DialOutItem.status.is_in(*_NOT_FINISHED))
                for window in slots:  # never below zero (a window expired and gone stays gone)
                    tx.update(window, actions=[DialOutWindow.count.add(-1)],
                              condition=DialOutWindow.count > 0)

        try:
            _retrying_conflicts(attempt)
            return True
        except TransactWriteError as err:
            if cancelled_by_condition(err, 0):
                return False
            kept = [w for i, w in enumerate(windows, start=1) if not cancelled_by_condition(err, i)]
            if len(kept) == len(windows):
                raise
            windows = kept
    raise AssertionError("unreachable: each round drops at least one window")


def record_dial_out_ended(room_id: str, dial_out_id: str, *, at: str) -> bool:
    """An answered call hung up (first leave wins). False when it was not answered or already ended."""
    bind()
    item = DialOutItem(*DialOutItem.key(room_id, dial_out_id))
    try:
        item.update(actions=[DialOutItem.ended_at.set(at)],
                    condition=(DialOutItem.status == "answered") & DialOutItem.ended_at.does_not_exist())
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return False
    return True


def new_pin_lock(number: str, pin: str, *, room_id: str, now: str) -> SipPinLock:
    return SipPinLock(*SipPinLock.key(number, pin), number=number, pin=pin, room_id=room_id, allocated_at=now)


def release_pin(number: str, pin: str, *, room_id: str) -> bool:
    """Delete the lock if this room holds it. False when it was already gone (or another room's)."""
    bind()
    try:
        SipPinLock(*SipPinLock.key(number, pin)).delete(condition=SipPinLock.room_id == room_id)
    except DeleteError as err:
        if not condition_failed(err):
            raise
        return False
    return True


def move_pin(room_id: str, number: str, old_pin: str, new_pin: str, *, now: str) -> bool:
    """Give a live room without a dispatch rule yet another PIN on its number, in one transaction: the
    new lock (attribute_not_exists), the room's ``sip.pin`` (still the old one), the old lock released.
    Raises PinTaken when another room holds the new PIN; False when the room moved on (ended, or its PIN
    or dispatch rule changed meanwhile)."""
    bind()
    room = RoomItem(*RoomItem.key(room_id))
    lock = new_pin_lock(number, new_pin, room_id=room_id, now=now)
    try:
        with TransactWrite(connection=RoomItem._get_connection().connection) as tx:
            tx.save(lock, condition=TableItem.pk.does_not_exist())
            tx.update(room, actions=[RoomItem.sip["pin"].set(new_pin), RoomItem.updated_at.set(now)],
                      condition=RoomItem.status.is_in(*LIVE_STATUSES) & (RoomItem.sip["pin"] == old_pin)
                      & RoomItem.sip["dispatch_rule_id"].does_not_exist())
            tx.delete(SipPinLock(*SipPinLock.key(number, old_pin)), condition=SipPinLock.room_id == room_id)
    except TransactWriteError as err:
        if cancelled_by_condition(err, 0):
            raise PinTaken(lock.sk) from err
        if cancelled_by_condition(err, 1) or cancelled_by_condition(err, 2):
            return False
        raise
    return True


def record_dispatch_rule(room_id: str, rule_id: str, *, now: str) -> bool:
    """Remember the room's dispatch rule, only on a live room that has none yet (first writer wins)."""
    bind()
    room = RoomItem(*RoomItem.key(room_id))
    try:
        room.update(
            actions=[RoomItem.sip["dispatch_rule_id"].set(rule_id), RoomItem.updated_at.set(now)],
            condition=RoomItem.status.is_in(*LIVE_STATUSES)
            & RoomItem.sip["pin"].exists()
            & RoomItem.sip["dispatch_rule_id"].does_not_exist(),
        )
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return False
    return True


def take_dial_out_slot(room_id: str, *, window_start: str, limit: int, expires_at: datetime) -> int | None:
    """Count one dial-out in the room's current window: the new count, or None when the limit is reached.

    One conditional UpdateItem (ADD with ``count < limit``), so concurrent dial-outs cannot overshoot.
    """
    bind()
    window = DialOutWindow(*DialOutWindow.key(room_id, window_start))
    try:
        window.update(
            actions=[
                DialOutWindow.count.add(1),
                DialOutWindow.room_id.set(room_id),
                DialOutWindow.kind.set(DialOutWindow),
                DialOutWindow.ttl.set(expires_at),
            ],
            condition=DialOutWindow.count.does_not_exist() | (DialOutWindow.count < limit),
        )
    except UpdateError as err:
        if not condition_failed(err):
            raise
        return None
    return int(window.count)


def take_member_dial_out_slots(room_id: str, user_id: str, *, window_start: str, limit: int, member_limit: int,
                               expires_at: datetime) -> str | None:
    """A member's call to themselves counts against the room's window and the member's own, both or
    neither: one transaction of two conditional ADDs. None when both were taken; otherwise the limit that
    was reached, ``"room"`` or ``"member"``."""
    bind()
    windows = [(DialOutWindow(*DialOutWindow.key(room_id, window_start)), limit),
               (DialOutWindow(*DialOutWindow.key(room_id, window_start, user_id)), member_limit)]

    def attempt() -> None:
        with TransactWrite(connection=DialOutWindow._get_connection().connection) as tx:
            for window, most in windows:
                tx.update(window, actions=[
                    DialOutWindow.count.add(1), DialOutWindow.room_id.set(room_id),
                    DialOutWindow.kind.set(DialOutWindow), DialOutWindow.ttl.set(expires_at),
                ], condition=DialOutWindow.count.does_not_exist() | (DialOutWindow.count < most))

    try:
        _retrying_conflicts(attempt)
    except TransactWriteError as err:
        if cancelled_by_condition(err, 0):
            return "room"
        if cancelled_by_condition(err, 1):
            return "member"
        raise
    return None


def get_room_and_members(room_id: str, *user_ids: str) -> tuple[RoomItem | None, dict[str, Member]]:
    """The room and the given members in one BatchGetItem round trip."""
    bind()
    room: RoomItem | None = None
    members: dict[str, Member] = {}
    keys = [RoomItem.key(room_id)] + [Member.key(room_id, u) for u in dict.fromkeys(user_ids)]
    for item in TableItem.batch_get(keys):
        if isinstance(item, RoomItem):
            room = item
        elif isinstance(item, Member):
            members[item.user_id] = item
    return room, members
