"""`rooms up` as a newcomer meets it: busy ports, what it prints, the state file a second shell reads."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import replace

import pytest
import requests

from rooms_local import cli
from rooms_local.config import LocalConfig, PortInUse, read_running_state, write_state
from rooms_local.stack import LocalStack


@pytest.fixture
def busy_port():
    """A port something listens on (and never answers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _config(**ports) -> LocalConfig:
    return replace(LocalConfig(table_name=f"rooms-start-{uuid.uuid4().hex[:6]}").with_free_ports(), **ports)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("part", "env_var"), [("moto_port", "MOTO_PORT"), ("livekit_port", "LIVEKIT_DEV_PORT"),
                                               ("api_port", "ROOMS_API_PORT")])
def test_a_busy_port_fails_fast_naming_the_port_and_its_setting(busy_port, part, env_var):
    with pytest.raises(PortInUse) as err:
        LocalStack(_config(**{part: busy_port})).start()
    assert str(busy_port) in str(err.value) and env_var in str(err.value)


@pytest.mark.timeout(60)
def test_rooms_up_with_a_busy_moto_port_exits_with_the_reason(busy_port, monkeypatch, capsys, tmp_path):
    # (also: no state file is written by a start that failed)
    config = LocalConfig().with_free_ports()
    monkeypatch.setenv("ROOMS_STATE_FILE", str(tmp_path / "state.json"))
    monkeypatch.setenv("ROOMS_API_PORT", str(config.api_port))
    monkeypatch.setenv("LIVEKIT_DEV_PORT", str(config.livekit_port))
    monkeypatch.setenv("MOTO_PORT", str(busy_port))
    assert cli.main(["up", "--no-demo", "--exit-after-demo"]) == 1
    err = capsys.readouterr().err
    assert f"127.0.0.1:{busy_port}" in err and "MOTO_PORT" in err
    assert not (tmp_path / "state.json").exists()


ROOMS = [sys.executable, "-m", "rooms_local.cli"]


def _shell_env(state_file, **extra) -> dict[str, str]:
    """A fresh shell's environment: none of the stack's variables (this test process has them)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH")}
    return {**keep, "ROOMS_STATE_FILE": str(state_file), **{k: str(v) for k, v in extra.items()}}


@pytest.fixture
def rooms_up(tmp_path):
    """`rooms up` running in its own process on free ports; yields (its config, the state file, the env of
    a second shell), and checks it removed its state file when stopped."""
    config = LocalConfig().with_free_ports()
    state = tmp_path / "state.json"
    log = (tmp_path / "up.out").open("w")
    up = subprocess.Popen([*ROOMS, "up", "--no-demo", "--sweep-every", "0"], stdout=log, stderr=subprocess.STDOUT,
                          env=_shell_env(state, ROOMS_API_PORT=config.api_port, MOTO_PORT=config.moto_port,
                                         LIVEKIT_DEV_PORT=config.livekit_port))
    try:
        while not state.exists():  # bounded by the test's timeout
            assert up.poll() is None, (tmp_path / "up.out").read_text()
            time.sleep(0.1)
        yield config, state, _shell_env(state)
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(60)
        log.close()
    assert up.returncode == 0, (tmp_path / "up.out").read_text()
    assert not state.exists()


def _run(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([*ROOMS, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(240)
def test_commands_in_another_shell_find_the_running_stack_from_its_state_file(rooms_up):
    config, state, shell = rooms_up
    assert json.loads(state.read_text())["urls"]["api"] == config.api_url
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    token = _run(["token", "--sub", "platform", "--admin"], shell)
    assert token.returncode == 0, token.stderr
    r = requests.get(f"{config.api_url}/templates", headers={"authorization": f"Bearer {token.stdout.strip()}"},
                     timeout=30)
    assert r.status_code == 200, r.text
    assert _run(["state"], shell).returncode == 0
    invoked = _run(["invoke", "create_room"], shell)  # a sample event's name: its function, this stack
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["statusCode"] in (200, 201)  # the result alone; logs on stderr
    assert "START RequestId: " in invoked.stderr


def test_a_stale_state_file_is_ignored(tmp_path, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    state = tmp_path / "state.json"
    write_state(replace(LocalConfig(), api_port=4321), {}, state)
    state.write_text(state.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {int(dead.stdout)}'))
    monkeypatch.setenv("ROOMS_STATE_FILE", str(state))
    for key in ("ROOMS_API_PORT", "MOTO_PORT", "LIVEKIT_DEV_PORT", "LIVEKIT_URL"):
        monkeypatch.delenv(key, raising=False)
    assert read_running_state() is None
    assert LocalConfig.for_cli().api_port == 3000
    write_state(replace(LocalConfig(), api_port=4321), {}, state)  # this (live) process's
    assert LocalConfig.for_cli().api_port == 4321
    monkeypatch.setenv("ROOMS_API_PORT", "4322")  # the environment still wins
    assert LocalConfig.for_cli().api_port == 4322


@pytest.mark.timeout(240)
def test_rooms_up_says_what_it_starts_the_routes_it_serves_and_where_state_lives(tmp_path):
    from rooms_local.lambda_runtime import routes_manifest

    config = LocalConfig().with_free_ports()
    state = tmp_path / "state.json"
    up = subprocess.run([*ROOMS, "up", "--no-demo", "--exit-after-demo", "--sweep-every", "0"], capture_output=True,
                        text=True, timeout=200, env=_shell_env(state, ROOMS_API_PORT=config.api_port,
                                                               MOTO_PORT=config.moto_port,
                                                               LIVEKIT_DEV_PORT=config.livekit_port))
    assert up.returncode == 0, up.stderr
    out = up.stdout
    progress = out[:out.index("Routes served")]
    for part in (f"moto (DynamoDB, S3, EventBridge) on {config.moto_url}", f"LiveKit emulator on {config.livekit_url}",
                 f"API gateway on {config.api_url}"):
        assert part in progress
    routes = {line.split()[0] + " " + line.split()[1]: line.split()[2] for line in
              out[out.index("Routes served"):out.index("Rooms local stack is up")].splitlines()[1:] if line.strip()}
    for function, keys in routes_manifest().items():
        for key in keys:
            assert routes[key] == function
    assert routes["POST /livekit/webhook"] == "webhook_handler"
    assert "lost when it exits" in out and str(state) in out
    assert not state.exists()  # removed on exit


def test_rooms_up_refuses_to_start_over_a_running_stacks_state_file(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state.json"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_state(LocalConfig(), {}, state)
        state.write_text(state.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {other.pid}'))
        monkeypatch.setenv("ROOMS_STATE_FILE", str(state))
        assert cli.main(["up", "--no-demo", "--exit-after-demo"]) == 1
        assert f"already runs (pid {other.pid}" in capsys.readouterr().err
        assert state.exists()  # still the other stack's
    finally:
        other.kill()
        other.wait()
