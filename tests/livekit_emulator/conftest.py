"""Fixtures: an emulator on a free port wired to a webhook sink, and moto S3 for egress."""

from __future__ import annotations

import socket

import pytest

from rooms_local.livekit_emulator import LiveKitEmulator

from .support import BUCKET, KEY, SECRET, WebhookSink, s3


def pytest_configure(config):
    # LiveKit's well-known dev secret ("secret") is shorter than PyJWT likes; that is the point of it.
    config.addinivalue_line("filterwarnings", "ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture
def sink():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def server(sink):
    server = LiveKitEmulator(port=0, api_key=KEY, api_secret=SECRET, webhook_urls=[sink.url]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    moto.stop()
