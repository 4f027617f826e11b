"""The CLI of the local contract: dev tokens the gateway accepts, and `rooms invoke` with events/."""

from __future__ import annotations

import json

import jwt
import pytest
import requests

from rooms_local import cli
from rooms_local.config import EVENTS_DIR


@pytest.fixture(autouse=True)
def no_running_stack(tmp_path, monkeypatch):
    """The commands find a stack from `rooms up`'s state file: not a developer's own, here."""
    monkeypatch.setenv("ROOMS_STATE_FILE", str(tmp_path / "no-stack.json"))


def test_token_command_prints_a_token_the_gateway_accepts(api, capsys, monkeypatch, stack):
    monkeypatch.setenv("ROOMS_API_PORT", str(stack.config.api_port))
    assert cli.main(["token", "--sub", "platform-backend", "--admin"]) == 0
    token = capsys.readouterr().out.strip()
    r = api.call("GET", "/templates", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200


def test_invoke_runs_a_function_with_a_sample_event_against_the_stack(stack, capsys, monkeypatch):
    for key, value in stack.config.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MOTO_PORT", str(stack.config.moto_port))
    monkeypatch.setenv("LIVEKIT_DEV_PORT", str(stack.config.livekit_port))
    assert cli.main(["invoke", "create_room", "events/create_room.json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{\n"):])
    assert result["statusCode"] in (200, 201)
    assert json.loads(result["body"])["booking_id"] == "evt-booking-1"
    assert cli.main(["invoke", "get_room", "get_room.json"]) == 1  # no such function: clear error
    assert cli.main(["invoke", "room_query", "get_room.json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{\n"):])
    assert result["statusCode"] == 200


def test_invoke_runs_the_sweeper_with_the_schedule_sample(stack, capsys, monkeypatch):
    for key, value in stack.config.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MOTO_PORT", str(stack.config.moto_port))
    monkeypatch.setenv("LIVEKIT_DEV_PORT", str(stack.config.livekit_port))
    assert cli.main(["invoke", "room_sweeper", "events/schedule_sweep.json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{\n"):])
    assert result["now"] == json.loads((EVENTS_DIR / "schedule_sweep.json").read_text())["time"]
    assert isinstance(result["due"], int)


def test_swagger_server_url_and_dev_issuer_follow_the_api_port(stack, api, capsys, monkeypatch):
    assert stack.config.api_port != 3000  # the session stack runs on a free port
    served = requests.get(f"{stack.config.api_url}/openapi.json", timeout=10).json()
    assert served["servers"][0]["url"] == stack.config.api_url
    assert stack.config.api_url in requests.get(f"{stack.config.api_url}/docs", timeout=10).text
    monkeypatch.setenv("ROOMS_API_PORT", str(stack.config.api_port))
    assert cli.main(["token", "--sub", "someone"]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{stack.config.api_url}/local-issuer"
    r = api.call("GET", "/templates", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 403  # signed in (a user, not an admin): the issuer matched
