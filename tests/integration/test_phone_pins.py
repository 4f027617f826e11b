"""PIN allocation against DynamoDB (moto) with a tiny PIN space, through the domain functions: the lock in
the room's creation transaction is what keeps PINs unique, and a PIN comes back only when its room ends."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from rooms.access import Caller
from rooms.clock import utcnow
from rooms.errors import Conflict
from rooms.room.models import CreateRoomRequest
from rooms.settings import get_settings
from tests.store_support import pins_held

ADMIN = Caller("platform-backend", frozenset({"rooms/admin"}))


@pytest.fixture
def pin_space(stack, monkeypatch):
    """Settings override: a number of our own (nobody else's PINs on it) and PINs of the given length."""

    number = "+1202555" + str(uuid.uuid4().int)[:4]
    trunk_id = get_settings().sip_numbers["US"].trunk_id

    def use(length: int) -> str:
        monkeypatch.setenv("SIP_PIN_LENGTH", str(length))
        monkeypatch.setenv("SIP_NUMBERS", json.dumps({"US": {"number": number, "trunk_id": trunk_id}}))
        get_settings.cache_clear()
        return number

    yield use
    monkeypatch.undo()
    get_settings.cache_clear()


def _create(tag: str, i: int):
    from rooms.room.service import create_room

    request = CreateRoomRequest(service_session_id=f"pins-{tag}-{i}", room_type="workshop",
                                host={"user_id": f"host-{tag}-{i}"}, sip={"enabled": True, "region": "US"})
    return create_room(request, caller=ADMIN, now=utcnow(), settings=get_settings())


def test_a_pin_is_reused_only_after_its_room_ended(pin_space):
    from rooms.lifecycle.ending import end_room

    number = pin_space(1)  # ten PINs: 0-9
    tag = uuid.uuid4().hex[:8]
    rooms = [_create(tag, i)[0] for i in range(10)]
    assert sorted(r.dial_in.pin for r in rooms) == [str(d) for d in range(10)]

    with pytest.raises(Conflict) as err:  # all ten held by live rooms
        _create(tag, 10)
    assert err.value.code == "pin_unavailable"
    again, created = _create(tag, 3)  # a repeat create takes no second PIN
    assert not created and again.dial_in.pin == rooms[3].dial_in.pin
    assert len(pins_held(number)) == 10

    end_room(rooms[6].room_id, caller=ADMIN, now=utcnow(), settings=get_settings())
    assert len(pins_held(number)) == 9
    newcomer, created = _create(tag, 10)
    assert created and newcomer.dial_in.pin == rooms[6].dial_in.pin
    assert {lock.room_id for lock in pins_held(number) if lock.pin == newcomer.dial_in.pin} == {
        newcomer.room_id}


def test_concurrent_rooms_in_a_crowded_pin_space_never_share_a_pin(pin_space):

    number = pin_space(2)  # 100 PINs for 60 rooms: clashes happen and are retried
    tag = uuid.uuid4().hex[:8]
    with ThreadPoolExecutor(16) as pool:
        rooms = [room for room, _ in pool.map(lambda i: _create(tag, i), range(60))]
    pins = [r.dial_in.pin for r in rooms]
    assert len(set(pins)) == 60 and all(len(p) == 2 for p in pins)
    assert sorted(lock.pin for lock in pins_held(number)) == sorted(pins)


def test_an_unconfigured_region_is_refused_naming_the_field(pin_space):
    from rooms.errors import InvalidInput
    from rooms.room.service import create_room

    pin_space(6)
    request = CreateRoomRequest(service_session_id=f"pins-{uuid.uuid4().hex}", room_type="workshop",
                                host={"user_id": "h"}, sip={"enabled": True, "region": "AU"})
    with pytest.raises(InvalidInput) as err:
        create_room(request, caller=ADMIN, now=utcnow(), settings=get_settings())
    assert err.value.field == "sip.region"
