"""LiveKit faults at the one door (rooms.livekit_gateway.client.run): a LiveKit that accepts the
connection and never answers, and one that refuses our API key, both end as 503 with a clear code."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rooms import metric_names
from rooms.errors import UpstreamUnavailable
from rooms.livekit_gateway import client, room_service, sip_service
from rooms.settings import Settings


@pytest.fixture
def use_livekit(monkeypatch):
    def point_at(url: str, timeout: float = 0.5) -> None:
        settings = Settings(livekit_url=url, livekit_api_key="devkey", livekit_api_secret="secret",
                            livekit_timeout_seconds=timeout)
        monkeypatch.setattr(client, "get_settings", lambda: settings)
        client._local.__dict__.clear()  # this thread's client was built for another URL

    yield point_at
    client.close_clients()


@pytest.fixture
def silent_server():
    """Accepts TCP connections, reads, never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    sock.close()


@pytest.fixture
def refusing_server():
    """Answers every Twirp call as LiveKit does for a key it does not know."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            body = json.dumps({"code": "unauthenticated", "msg": "invalid API key: devkey"}).encode()
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_livekit_that_never_answers_is_503_livekit_unavailable_within_the_bound(use_livekit, silent_server):
    use_livekit(silent_server, timeout=0.3)
    with pytest.raises(UpstreamUnavailable) as caught:
        room_service.list_live_participants("room-1")
    assert caught.value.status == 503 and caught.value.code == "livekit_unavailable"
    assert "did not answer within 0.3 s" in caught.value.message


def test_a_refused_api_key_is_503_livekit_unauthenticated_and_counted(use_livekit, refusing_server, monkeypatch):
    counted = []
    monkeypatch.setattr(client.metrics, "add_metric", lambda **kw: counted.append(kw["name"]))
    use_livekit(refusing_server)
    with pytest.raises(UpstreamUnavailable) as caught:
        room_service.list_live_participants("room-1")
    assert caught.value.status == 503 and caught.value.code == "livekit_unauthenticated"
    # dial-out used to read every non-5xx refusal as "LiveKit refused the call" → 409
    with pytest.raises(UpstreamUnavailable) as caught:
        sip_service.create_sip_participant(
            trunk_id="ST_1", call_to="+15550100", room_name="room-1", identity="phone-1", name="Phone",
            attributes={}, hide_phone_number=True, ringing_timeout_seconds=10)
    assert caught.value.code == "livekit_unauthenticated"
    assert counted == [metric_names.LIVEKIT_AUTH_FAILURES] * 2
