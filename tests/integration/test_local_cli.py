"""The CLI of the local contract: dev tokens the gateway accepts, and `rooms invoke` with events/."""

from __future__ import annotations

import json
from datetime import UTC, datetime

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


@pytest.fixture
def stack_env(stack, monkeypatch):
    for key, value in stack.config.function_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MOTO_PORT", str(stack.config.moto_port))
    monkeypatch.setenv("LIVEKIT_DEV_PORT", str(stack.config.livekit_port))
    monkeypatch.setenv("ROOMS_API_PORT", str(stack.config.api_port))


def test_invoke_prints_the_result_alone_on_stdout_and_start_end_report_on_stderr(stack_env, capsys):
    assert cli.main(["invoke", "create_room", "events/create_room.json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)  # nothing but the result
    assert result["statusCode"] in (200, 201)
    assert json.loads(result["body"])["booking_id"] == "evt-booking-1"
    lines = err.splitlines()
    start = next(line for line in lines if line.startswith("START RequestId: "))
    request_id = start.split()[2]
    assert f"END RequestId: {request_id}" in lines
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {request_id}"))
    assert "Duration: " in report and " ms" in report


def test_invoke_accepts_a_sample_events_name_and_lists_the_functions_on_a_wrong_name(stack_env, capsys):
    assert cli.main(["invoke", "room_query", "get_room.json"]) == 0
    assert json.loads(capsys.readouterr().out)["statusCode"] == 200
    assert cli.main(["invoke", "get_room"]) == 0  # the event's route is room_query's
    assert json.loads(capsys.readouterr().out)["statusCode"] == 200
    assert cli.main(["invoke", "get_rooom", "events/get_room.json"]) == 1
    err = capsys.readouterr().err
    assert "get_rooom" in err and "room_query" in err and "create_room" in err and "schedule_sweep" in err


def test_invoke_stamps_the_schedule_sample_with_the_current_time_unless_keep_time(stack_env, capsys):
    sample_time = json.loads((EVENTS_DIR / "schedule_sweep.json").read_text())["time"]
    before = datetime.now(UTC).replace(microsecond=0)
    assert cli.main(["invoke", "room_sweeper", "events/schedule_sweep.json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert before <= datetime.fromisoformat(result["now"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert isinstance(result["due"], int)
    assert cli.main(["invoke", "schedule_sweep", "--keep-time"]) == 0
    assert json.loads(capsys.readouterr().out)["now"] == sample_time


def test_swagger_server_url_and_dev_issuer_follow_the_api_port(stack, api, capsys, monkeypatch):
    assert stack.config.api_port != 3000  # the session stack runs on a free port
    served = requests.get(f"{stack.config.api_url}/openapi.json", timeout=10).json()
    assert served["servers"][0]["url"] == stack.config.api_url
    assert stack.config.api_url in requests.get(f"{stack.config.api_url}/docs", timeout=10).text
    monkeypatch.setenv("ROOMS_API_PORT", str(stack.config.api_port))
    capsys.readouterr()  # drop what came before
    assert cli.main(["token", "--sub", "someone"]) == 0
    # the token is the CLI's one line; the in-process stack's functions print JSON log and metric lines to
    # the same stdout when a late webhook lands meanwhile
    token = next(line for line in reversed(capsys.readouterr().out.splitlines())
                 if line and not line.startswith("{"))
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == f"{stack.config.api_url}/local-issuer"
    r = api.call("GET", "/templates", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 403  # signed in (a user, not an admin): the issuer matched


def test_state_prints_livekits_rooms_and_participants_as_a_table_and_json(api, booking_room, ids, stack_env,
                                                                          stack, capsys):
    from rooms_local.livekit_emulator import control

    token = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["host"])
    assert token.status_code == 200, token.text
    control.join(stack.config.livekit_url, token.json()["token"], publish=["audio"])
    assert cli.main(["state", "--json"]) == 0
    out = capsys.readouterr().out  # (the in-process stack's functions log JSON lines here too)
    rooms = json.loads(out[out.index('{\n  "rooms"'):])["rooms"]
    room = next(r for r in rooms if any(p["identity"] == ids["host"] for p in r["participants"]))
    assert room["numParticipants"] == 1
    assert cli.main(["state"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("ROOM ")))
    assert lines[header].split() == ["ROOM", "SID", "PARTICIPANTS", "PUBLISHERS", "CREATED", "(UTC)"]
    row = next(i for i, line in enumerate(lines) if line.startswith(room["name"] + " "))
    assert row == lines.index(lines[row]) and lines[row].split()[1:4] == [room["sid"], "1", "1"]
    host = next(line for line in lines[row:] if line.strip().startswith(ids["host"] + " "))
    assert "ACTIVE" in host and "microphone" in host
