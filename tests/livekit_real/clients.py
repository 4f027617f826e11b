"""Real LiveKit clients for the real-LiveKit tier: LiveKit's Python rtc SDK (libwebrtc in the wheel's
FFI library) driven over JSON lines.

WebRTC ignores loopback interfaces, so the clients run INSIDE the tier's network namespace, in a child
process (``ip netns exec NS python -m tests.livekit_real.clients``); the test talks to it over
stdin/stdout. One process holds any number of clients (the burst runs 5 processes x 10).

Protocol (one JSON object per line):
- request ``{"id": 1, "op": "connect", "client": "c1", "url": ..., "token": ...}``
  → reply ``{"id": 1, "ok": true, ...}`` or ``{"id": 1, "ok": false, "error": "..."}``;
- events pushed at any time ``{"event": "permissions_changed", "client": "c1", ...}``.

Ops: ``connect``, ``publish_audio`` (a synthetic tone from ``rtc.AudioSource``; replies whether the
server let it publish), ``state`` (own permissions, own tracks, remote tracks subscribed, data
received), ``disconnect``, ``exit``. Every loop is bounded by count and by time: each op has a timeout,
the tone feeder stops after ``max_seconds``, and the process exits after ``--max-seconds`` whatever the
test does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_RATE = 48000
FRAME_MS = 20
ROOT = Path(__file__).resolve().parents[2]


# --- the child: runs in the namespace -------------------------------------------------------------------


def _permissions(p) -> dict[str, bool]:
    perm = p.permissions
    return {"can_publish": perm.can_publish, "can_subscribe": perm.can_subscribe,
            "can_publish_data": perm.can_publish_data, "hidden": perm.hidden}


class _Client:
    def __init__(self, name: str, emit: Callable[[dict], None]) -> None:
        from livekit import rtc

        self.name = name
        self.emit = emit
        self.room = rtc.Room()
        self.data: list[dict] = []
        self.feeders: list[asyncio.Task] = []
        self.disconnect_reason: str | None = None
        self._wire()

    def _event(self, name: str, **fields) -> None:
        self.emit({"event": name, "client": self.name, "at": time.time(), **fields})

    def _wire(self) -> None:
        from livekit import rtc

        room = self.room

        @room.on("participant_permissions_changed")
        def _perm(participant, _permissions_obj) -> None:
            if participant.identity == room.local_participant.identity:
                self._event("permissions_changed", permissions=_permissions(participant))

        @room.on("track_subscribed")
        def _sub(track, publication, participant) -> None:
            self._event("track_subscribed", identity=participant.identity, track_sid=publication.sid,
                        track_kind="audio" if track.kind == rtc.TrackKind.KIND_AUDIO else "video")

        @room.on("track_muted")
        def _muted(participant, publication) -> None:
            self._event("track_muted", identity=participant.identity, track_sid=publication.sid,
                        local=participant.identity == room.local_participant.identity)

        @room.on("data_received")
        def _data(packet) -> None:
            entry = {"data": packet.data.decode("utf-8", "replace"), "topic": packet.topic,
                     "from": packet.participant.identity if packet.participant else None}
            self.data.append(entry)
            self._event("data_received", **entry)

        @room.on("disconnected")
        def _gone(reason) -> None:
            name = rtc.DisconnectReason.Name(reason) if isinstance(reason, int) else str(reason)
            self.disconnect_reason = name
            self._event("disconnected", reason=name)

    async def connect(self, url: str, token: str, timeout: float) -> dict:
        from livekit import rtc

        # each signal attempt gets half the budget (the SDK retries once): a loaded machine answers slowly
        options = rtc.RoomOptions(auto_subscribe=True, connect_timeout=max(5.0, timeout / 2))
        await asyncio.wait_for(self.room.connect(url, token, options), timeout)
        lp = self.room.local_participant
        return {"identity": lp.identity, "sid": lp.sid, "room_sid": await self.room.sid,
                "permissions": _permissions(lp)}

    async def publish_audio(self, timeout: float, feed_seconds: float) -> dict:
        from livekit import rtc

        source = rtc.AudioSource(SAMPLE_RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track(f"{self.name}-tone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        try:
            publication = await asyncio.wait_for(self.room.local_participant.publish_track(track, options), timeout)
        except TimeoutError:
            return {"published": False, "error": f"no answer from the server in {timeout:.0f} s"}
        except Exception as err:  # PublishTrackError: the server refused it
            return {"published": False, "error": f"{type(err).__name__}: {err}"}
        if feed_seconds > 0:
            self.feeders.append(asyncio.create_task(_feed_tone(source, feed_seconds)))
        return {"published": True, "track_sid": publication.sid}

    def state(self) -> dict:
        room = self.room
        connected = room.isconnected()
        lp = room.local_participant if connected else None
        remote = {}
        for identity, participant in room.remote_participants.items():
            remote[identity] = [{"sid": pub.sid, "subscribed": pub.subscribed, "muted": pub.muted}
                                for pub in participant.track_publications.values()]
        return {
            "connected": connected,
            "identity": lp.identity if lp else None,
            "permissions": _permissions(lp) if lp else None,
            "tracks": [{"sid": pub.sid, "muted": pub.muted} for pub in lp.track_publications.values()] if lp else [],
            "remote": remote,
            "data": list(self.data),
            "disconnect_reason": self.disconnect_reason,
        }

    async def disconnect(self) -> dict:
        for task in self.feeders:
            task.cancel()
        if self.room.isconnected():
            await asyncio.wait_for(self.room.disconnect(), 10)
        return {"disconnected": True}


async def _feed_tone(source, seconds: float) -> None:
    """A 440 Hz tone in 20 ms frames for at most ``seconds`` (bounded: a frame count, not a loop)."""
    from livekit import rtc

    samples = SAMPLE_RATE * FRAME_MS // 1000
    frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, samples)
    data = memoryview(frame.data).cast("h")
    for i in range(samples):
        data[i] = int(3000 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE))
    with contextlib.suppress(asyncio.CancelledError, Exception):
        for _ in range(int(seconds * 1000 / FRAME_MS)):
            await source.capture_frame(frame)


async def _serve(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    out_lock = threading.Lock()

    def emit(message: dict) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()

    clients: dict[str, _Client] = {}
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    deadline = loop.time() + max_seconds
    pending: set[asyncio.Task] = set()

    async def handle(request: dict) -> None:
        op, rid = request.get("op"), request.get("id")
        timeout = float(request.get("timeout", 20))
        try:
            name = request.get("client", "")
            if op == "connect":
                client = clients.setdefault(name, _Client(name, emit))
                result = await client.connect(request["url"], request["token"], timeout)
            elif op == "publish_audio":
                result = await clients[name].publish_audio(timeout, float(request.get("feed_seconds", 0)))
            elif op == "state":
                result = clients[name].state()
            elif op == "disconnect":
                result = await clients[name].disconnect()
            else:
                raise ValueError(f"unknown op {op!r}")
            emit({"id": rid, "ok": True, **result})
        except Exception as err:
            emit({"id": rid, "ok": False, "error": f"{type(err).__name__}: {err}"})

    emit({"event": "ready", "pid": os.getpid()})
    while loop.time() < deadline:
        try:
            line = await asyncio.wait_for(reader.readline(), max(0.1, deadline - loop.time()))
        except TimeoutError:
            break
        if not line:
            break  # the test closed our stdin
        request = json.loads(line)
        if request.get("op") == "exit":
            emit({"id": request.get("id"), "ok": True})
            break
        task = asyncio.create_task(handle(request))  # ops of different clients run concurrently
        pending.add(task)
        task.add_done_callback(pending.discard)
    for client in clients.values():
        with contextlib.suppress(Exception):
            await client.disconnect()
    for task in list(pending):
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.max_seconds))


# --- the test's side ------------------------------------------------------------------------------------


class ClientError(AssertionError):
    pass


@dataclass
class ClientProcess:
    """A child process of real clients in the namespace ``netns`` (None: this namespace, for a server
    reachable on a non-loopback address)."""

    netns: str | None
    max_seconds: float = 300.0
    python: str = sys.executable
    _proc: subprocess.Popen | None = None
    _next_id: int = 0
    _replies: dict[int, dict] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _stderr: list[str] = field(default_factory=list)

    def start(self) -> ClientProcess:
        cmd = [self.python, "-m", "tests.livekit_real.clients", "--max-seconds", str(self.max_seconds)]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, cwd=ROOT, env=env)
        threading.Thread(target=self._read, daemon=True, name="lk-clients-out").start()
        threading.Thread(target=self._read_err, daemon=True, name="lk-clients-err").start()
        self.wait_event(lambda e: e.get("event") == "ready", timeout=30, what="the client process to start")
        return self

    def _read(self) -> None:
        assert self._proc and self._proc.stdout
        for line in self._proc.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(line)
                continue
            with self._cond:
                if "id" in message and "event" not in message:
                    self._replies[message["id"]] = message
                else:
                    self.events.append(message)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_err(self) -> None:
        assert self._proc and self._proc.stderr
        for line in self._proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]  # keep the tail for error messages

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def request(self, op: str, client: str = "", *, timeout: float = 20.0, check: bool = True, **fields) -> dict:
        with self._cond:
            self._next_id += 1
            rid = self._next_id
        assert self._proc and self._proc.stdin
        self._proc.stdin.write(json.dumps({"id": rid, "op": op, "client": client, "timeout": timeout, **fields}) + "\n")
        self._proc.stdin.flush()
        deadline = time.monotonic() + timeout + 10
        with self._cond:
            while rid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    raise ClientError(f"{op} {client}: no reply ({'timeout' if left <= 0 else 'process died'}); "
                                      f"stderr tail: {''.join(self._stderr[-20:])}")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(rid)
        if check and not reply["ok"]:
            raise ClientError(f"{op} {client}: {reply['error']}")
        return reply

    def wait_event(self, predicate: Callable[[dict], bool], *, timeout: float = 20.0, what: str = "an event") -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or not self._alive():
                    raise ClientError(f"waited {timeout:.0f} s for {what}; events: {self.events[-10:]}; "
                                      f"stderr tail: {''.join(self._stderr[-20:])}")
                self._cond.wait(min(left, 0.5))

    def client_events(self, client: str, kind: str) -> list[dict]:
        with self._cond:
            return [e for e in self.events if e.get("client") == client and e.get("event") == kind]

    # conveniences ---------------------------------------------------------------------------------------
    def connect(self, client: str, url: str, token: str, *, timeout: float = 20.0, check: bool = True) -> dict:
        return self.request("connect", client, url=url, token=token, timeout=timeout, check=check)

    def publish_audio(self, client: str, *, feed_seconds: float = 0.0, timeout: float = 10.0) -> dict:
        return self.request("publish_audio", client, feed_seconds=feed_seconds, timeout=timeout)

    def state(self, client: str) -> dict:
        return self.request("state", client, timeout=5.0)

    def disconnect(self, client: str) -> dict:
        return self.request("disconnect", client, timeout=15.0)

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._alive():
            with contextlib.suppress(Exception):
                self.request("exit", timeout=15.0)
        with contextlib.suppress(Exception):
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()  # our own child, by its handle
            self._proc.wait(timeout=5)
        self._proc = None

    def __enter__(self) -> ClientProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    main()
